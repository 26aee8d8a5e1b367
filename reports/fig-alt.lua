-- fieldsurvey: make the Quarto `fig-alt` attribute work under plain pandoc.
--
-- Quarto reads ![caption](path){fig-alt="..."} natively. Plain pandoc keeps fig-alt as a
-- data-fig-alt attribute and uses the caption as the image's alt text. This filter moves
-- fig-alt into the image description, which pandoc's HTML writer emits as alt="..." and its
-- DOCX writer as the picture description. Pandoc's typst writer drops image descriptions, so
-- for typst the whole figure is written as raw typst with image(..., alt: "...").

local function typst_string(text)
  return '"' .. text:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

local function exists(path)
  local f = io.open(path, "r")
  if f then
    f:close()
    return true
  end
  return false
end

local function html_attribute(text)
  return (text:gsub("&", "&amp;"):gsub('"', "&quot;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

-- HTML shows the sharp SVG twin of a PNG figure (fieldsurvey writes both); PDF and DOCX keep
-- the PNG. The img tag is written by hand so that it keeps a real alt attribute.
local function svg_image(img, alt)
  if not FORMAT:match("html") or not img.src:match("%.png$") then
    return nil
  end
  local svg = img.src:gsub("%.png$", ".svg")
  -- Look where pandoc looks for the PNG (--resource-path): the input may be the document's
  -- syntax tree in a scratch folder rather than the document itself.
  local found = false
  for _, dir in ipairs(PANDOC_STATE.resource_path) do
    found = found or exists(pandoc.path.join({dir, svg}))
  end
  if not found then
    return nil
  end
  return pandoc.RawInline("html", '<img src="' .. html_attribute(svg) .. '" alt="'
    .. html_attribute(alt) .. '" />')
end

function Image(img)
  local alt = img.attributes["fig-alt"]
  if alt == nil then
    return nil
  end
  img.attributes["fig-alt"] = nil
  img.caption = pandoc.Inlines(alt)
  return svg_image(img, alt) or img
end

function Figure(fig)
  if FORMAT ~= "typst" then
    return nil
  end
  local images = {}
  fig.content:walk({ Image = function(img) table.insert(images, img) end })
  if #images ~= 1 then
    return nil
  end
  local img = images[1]
  local caption = pandoc.write(pandoc.Pandoc(fig.caption.long), "typst")
  local label = ""
  if fig.identifier ~= "" then
    label = " <" .. fig.identifier .. ">"
  end
  local code = "#figure(image(" .. typst_string(img.src) .. ", width: 100%, alt: "
    .. typst_string(pandoc.utils.stringify(img.caption)) .. "),\n  caption: ["
    .. caption:gsub("%s+$", "") .. "]\n)" .. label
  return pandoc.RawBlock("typst", code)
end
