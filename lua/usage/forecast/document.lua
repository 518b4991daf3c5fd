-- usage.forecast.document: a forecast result as JSON (what `--format json` prints): the method, its inputs
-- (the daily figures it used) and every figure with the days it covers. docs/forecast.md lists the fields.
--
--   local text = require("usage.forecast.document").encode(result)

local json = require "usage.base.json"
local ptext = require "usage.prometheus.text"

local M = {}

local KIND = "genesys-usage forecast"
M.VERSION = 1

-- a deep copy fit for JSON: strings made valid UTF-8 (names come from a server), arrays kept arrays
local function copy(v, depth)
  local t = type(v)
  if t == "string" then return ptext.valid_utf8(v) end
  if t ~= "table" or v == json.null then return v end
  if depth > 20 then error("usage.forecast.document: the result nests too deeply", 0) end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x, depth + 1) end
  if json.is_array(v) then json.array(out) end
  return out
end

-- document(result) -> a plain table: { kind =, version =, ... every field of the result }
function M.document(result)
  if type(result) ~= "table" then error("usage.forecast.document: expects a forecast result", 2) end
  local doc = copy(result, 0)
  doc.kind = KIND
  doc.version = M.VERSION
  return doc
end

-- encode(result) -> JSON text (one line, keys sorted)
function M.encode(result)
  if type(result) ~= "table" then error("usage.forecast.document: expects a forecast result", 2) end
  return json.encode(M.document(result))
end

return M
