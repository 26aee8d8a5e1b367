-- fieldsurvey: make the Quarto `fig-alt` attribute work under plain pandoc, and write every
-- format of a report from one reading of its markdown.
--
-- Quarto reads ![caption](path){fig-alt="..."} natively. Plain pandoc keeps fig-alt as a
-- data-fig-alt attribute and uses the caption as the image's alt text. This filter moves
-- fig-alt into the image description, which pandoc's HTML writer emits as alt="..." and its
-- DOCX writer as the picture description. Pandoc's typst writer drops image descriptions, so
-- for typst the whole figure is written as raw typst with image(..., alt: "...").
--
-- HTML images are embedded as data URIs (see src/fieldsurvey/report/html_embed.py).
--
-- Reading the markdown (its pipe tables above all) is most of pandoc's time, so one pandoc
-- run writes every format: the run's own output (HTML, which needs the command line's
-- --embed-resources, --css and --toc) and, from the same syntax tree before any
-- format-specific change, the formats listed in the FIELDSURVEY_SIDE_OUTPUTS environment
-- variable (JSON: a list of {format, output, metadata}; metadata is a YAML file of template
-- variables, read as --metadata-file reads it). Each is written as `pandoc --to=FORMAT
-- --standalone` would write it.

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

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1, d2 = n // 262144 % 64 + 1, n // 4096 % 64 + 1
    local d3, d4 = n // 64 % 64 + 1, n % 64 + 1
    out[#out + 1] = B64:sub(d1, d1) .. B64:sub(d2, d2)
      .. (b and B64:sub(d3, d3) or "=") .. (c and B64:sub(d4, d4) or "=")
  end
  return table.concat(out)
end

-- HTML is self-contained: images are embedded as data URIs here, as pandoc's
-- --embed-resources writes them, which saves pandoc parsing its whole HTML output again.
local function data_uri(src)
  local mime, contents = pandoc.mediabag.fetch(src)
  return "data:" .. mime .. ";base64," .. base64(contents)
end

-- HTML shows the sharp SVG twin of a PNG figure (fieldsurvey writes both); PDF and DOCX keep
-- the PNG. The img tag is written by hand so that it keeps a real alt attribute.
local function svg_image(img, alt)
  if not img.src:match("%.png$") then
    return nil
  end
  local svg = img.src:gsub("%.png$", ".svg")
  -- Look where pandoc looks for the PNG (--resource-path).
  local found = false
  for _, dir in ipairs(PANDOC_STATE.resource_path) do
    found = found or exists(pandoc.path.join({dir, svg}))
  end
  if not found then
    return nil
  end
  local label = html_attribute(alt)
  return pandoc.RawInline("html", '<img role="img" aria-label="' .. label .. '" src="'
    .. data_uri(svg) .. '" alt="' .. label .. '" />')
end

local function typst_figure(fig)
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

-- The filter for one output format: images take their fig-alt text (inlines are visited
-- before blocks, so a typst figure sees its image's alt text).
local function filter_for(format)
  local html = format:match("html")
  local filter = {}
  function filter.Image(img)
    local alt = img.attributes["fig-alt"]
    if alt ~= nil then
      img.attributes["fig-alt"] = nil
      img.caption = pandoc.Inlines(alt)
      local svg = html and svg_image(img, alt)
      if svg then
        return svg
      end
    elseif not html then
      return nil
    end
    if html and not img.src:match("^data:") then
      img.src = data_uri(img.src)
    end
    return img
  end
  if format == "typst" then
    filter.Figure = typst_figure
  end
  return filter
end

local function read_file(path, mode)
  local f = assert(io.open(path, mode or "r"))
  local text = f:read("a")
  f:close()
  return text
end

-- Values of a metadata file, under the document's own (as --metadata-file adds them).
local function with_metadata(doc, path)
  if path == nil or path == pandoc.json.null then
    return doc
  end
  local extra = pandoc.read("---\n" .. read_file(path) .. "\n---\n", "markdown").meta
  for key, value in pairs(extra) do
    if doc.meta[key] == nil then
      doc.meta[key] = value
    end
  end
  return doc
end

local function write_side_output(doc, side)
  local out = with_metadata(doc:walk(filter_for(side.format)), side.metadata)
  local options = {
    template = pandoc.template.compile(pandoc.template.default(side.format)),
    columns = PANDOC_WRITER_OPTIONS.columns,
  }
  local f = assert(io.open(side.output, "wb"))
  f:write(pandoc.write(out, side.format, options))
  f:close()
end

function Pandoc(doc)
  local sides = os.getenv("FIELDSURVEY_SIDE_OUTPUTS")
  if sides ~= nil and sides ~= "" then
    for _, side in ipairs(pandoc.json.decode(sides, false)) do
      write_side_output(doc, side)
    end
  end
  return doc:walk(filter_for(FORMAT))
end
