-- support.exposition: reads the Prometheus text exposition format back, strictly, for the specs of
-- genesys-usage metrics, node_exporter's textfile collector and the OpenResty collector.
--
--   local exposition = require "support.exposition"
--   local families, by_name = exposition.parse(text)   -- raises on what the format does not allow
--   exposition.parse(text, { strict = true })          -- and on what usage.prometheus never writes: a type other
--                                                      -- than gauge or counter, a blank line, a timestamp
--   local value, s = exposition.sample(by_name, "genesys_usage_collect_success", { org = "acme" })
--   local list = exposition.samples(by_name, name, { period = "day" })   -- every sample whose labels include these
--   local lines = exposition.lines(text)               -- { ['name{labels}'] = "value" } of every sample line

local M = {}

local function unescape(s, what)
  return (s:gsub("\\(.)", function(c)
    if c == "n" then return "\n" end
    if c == "\\" or (c == '"' and what == "label") then return c end
    error("bad escape \\" .. c .. " in a " .. what)
  end))
end

-- parse(text) -> array of families { name, type, help, samples = { { labels = {}, value = number, text = "..." } } },
-- families by name. Raises on a sample before its TYPE, a family in two places, HELP or TYPE twice, a label
-- given twice, a bad value.
function M.parse(text, opts)
  local strict = opts and opts.strict
  assert(text == "" or text:sub(-1) == "\n", "the exposition must end with a newline")
  local families, by_name, current = {}, {}, nil
  local function family(name)
    local f = by_name[name]
    if not f then
      f = { name = name, samples = {} }
      by_name[name] = f
      families[#families + 1] = f
    elseif f ~= current then
      error("family " .. name .. " appears in two places")
    end
    current = f
    return f
  end
  for line in text:gmatch("([^\n]*)\n") do
    local name, help = line:match("^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$")
    if name then
      local f = family(name)
      assert(not f.help and #f.samples == 0, "HELP of " .. name .. " twice or after samples")
      f.help = unescape(help, "help")
    else
      local tname, kind = line:match("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (%a+)$")
      if tname then
        local f = family(tname)
        assert(not f.type and #f.samples == 0, "TYPE of " .. tname .. " twice or after samples")
        assert(not strict or kind == "gauge" or kind == "counter", kind)
        f.type = kind
      elseif line:match("^#") or (line == "" and not strict) then
        assert(not line:match("^#%s*HELP") and not line:match("^#%s*TYPE"), "bad line: " .. line)
      else
        local sname, rest = line:match("^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$")
        assert(sname, "bad sample line: " .. line)
        -- the _sum, _count and _bucket samples of a summary or a histogram (other exporters' families)
        local base = sname:match("^(.-)_sum$") or sname:match("^(.-)_count$") or sname:match("^(.-)_bucket$")
        if not by_name[sname] and base and by_name[base] and
           (by_name[base].type == "summary" or by_name[base].type == "histogram") then
          sname = base
        end
        local f = family(sname)
        assert(f.type, "sample of " .. sname .. " before its TYPE")
        local labels = {}
        if rest:sub(1, 1) == "{" then
          local i = 2
          while rest:sub(i, i) ~= "}" do
            local lname, j = rest:match("^([a-zA-Z_][a-zA-Z0-9_]*)=\"()", i)
            assert(lname, "bad label at " .. rest:sub(i))
            local k = j
            while true do
              local c = rest:sub(k, k)
              assert(c ~= "" and c ~= "\n", "unterminated label value")
              if c == "\\" then k = k + 2 elseif c == '"' then break else k = k + 1 end
            end
            assert(labels[lname] == nil, "label " .. lname .. " twice in " .. line)
            labels[lname] = unescape(rest:sub(j, k - 1), "label")
            i = k + 1
            if rest:sub(i, i) == "," then i = i + 1 end
          end
          rest = rest:sub(i + 1)
        end
        local value = rest:match("^ (%S+)$") or (not strict and rest:match("^ (%S+) %-?%d+$")) -- (a timestamp)
        assert(value and (tonumber(value) or value == "+Inf" or value == "-Inf" or value == "NaN"),
               "bad value in: " .. line)
        f.samples[#f.samples + 1] = { labels = labels, value = tonumber(value), text = value, line = line }
      end
    end
  end
  return families, by_name
end

local function includes(labels, want)
  for k, v in pairs(want or {}) do
    if labels[k] ~= v then return false end
  end
  return true
end

-- samples(by_name, name, labels) -> the samples of the family whose labels include `labels`
function M.samples(by_name, name, labels)
  local out = {}
  for _, s in ipairs(by_name[name] and by_name[name].samples or {}) do
    if includes(s.labels, labels) then out[#out + 1] = s end
  end
  return out
end

-- sample(by_name, name, labels) -> the value of the one sample whose labels include `labels` (raises when
-- there are several), the sample | nil
function M.sample(by_name, name, labels)
  local list = M.samples(by_name, name, labels)
  assert(#list <= 1, #list .. " samples of " .. name .. " match")
  if list[1] then return list[1].value, list[1] end
  return nil
end

-- lines(text) -> { ["name{labels}"] = "value text" } of every sample line (as written)
function M.lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    if not line:match("^#") then
      local series, value = line:match("^(.-) (%S+)$")
      out[series] = value
    end
  end
  return out
end

return M
