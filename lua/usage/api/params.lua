-- usage.api.params: the argument checks shared by the 11 generated operations and the flows. A wrong argument
-- is a programmer error: it raises at once, before anything is sent (as the official SDKs throw).
-- `level` is the stack level of the user's call, as error() takes it.

local validate = require "usage.api.validate"
local core = require "usage.core"

local M = {}

local MAX_ID = 1024

-- check_self(Client, self, name, level): called as a method (client:name(...), not client.name(...))
function M.self(class, self, name, level)
  if getmetatable(self) ~= class then
    error(string.format("usage: %s: call it as a method, client:%s(...)", name, name), level + 1)
  end
end

-- id(name, param, v, position, level): a path parameter: a string of 1..1024 characters, no control
-- character, not "." or ".."
function M.id(name, param, v, position, level)
  if type(v) ~= "string" then
    error(string.format("usage: %s: argument #%d '%s' must be a string, got %s", name, position, param, type(v)),
          level + 1)
  end
  if v == "" or v == "." or v == ".." then
    error(string.format("usage: %s: argument #%d '%s' must be a real id, got %q", name, position, param, v), level + 1)
  end
  if #v > MAX_ID or v:find("%c") then
    error(string.format("usage: %s: argument #%d '%s' contains control characters or is longer than %d",
                        name, position, param, MAX_ID), level + 1)
  end
end
M.MAX_ID = MAX_ID

function M.body(name, model, v, position, level)
  if type(v) ~= "table" then
    error(string.format("usage: %s: argument #%d 'body' must be a table (%s), got %s", name, position, model, type(v)),
          level + 1)
  end
end

-- headers(name, h, level) -> a copy of the per-call custom headers: names and values strings, no CR/LF/NUL,
-- and never Authorization (the client's own)
function M.headers(name, h, level)
  if h == nil then return nil end
  if type(h) ~= "table" then
    error(string.format("usage: %s: option 'headers' must be a table, got %s", name, type(h)), level + 1)
  end
  local out = {}
  for k, v in pairs(h) do
    if type(k) ~= "string" or not k:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
      error(string.format("usage: %s: header name %q is not a valid token", name, tostring(k)), level + 1)
    end
    if type(v) ~= "string" or core.has_crlf(v) then
      error(string.format("usage: %s: header '%s' must be a string without CR, LF or NUL", name, k), level + 1)
    end
    local lk = k:lower()
    if lk == "authorization" then
      error(string.format("usage: %s: header 'Authorization' is the client's own and cannot be set", name), level + 1)
    end
    out[lk] = v
  end
  return out
end

-- query(name, key, spec, v, level) -> the text of query parameter `key` (spec: its row in an operation's
-- `query` table of usage.api.operations): an integer within spec.min..spec.max, whole days ("digits": a
-- string or number of at most 6 digits), or a string without control characters. The generated
-- operations and the flows both check their query parameters here, so a flow accepts exactly what its
-- operation accepts.
function M.query(name, key, spec, v, level)
  if spec.type == "integer" then
    if type(v) ~= "number" or v ~= math.floor(v) or v < spec.min or v > spec.max then
      error(string.format("usage: %s: option '%s' must be an integer from %d to %d", name, key, spec.min, spec.max),
            level + 1)
    end
    return string.format("%d", v)
  elseif spec.type == "digits" then
    if type(v) == "number" and v == math.floor(v) and v >= 0 and v < 1e6 then v = string.format("%d", v) end
    if type(v) ~= "string" or not v:match("^%d+$") or #v > 6 then
      error(string.format("usage: %s: option '%s' must be a whole number of days", name, key), level + 1)
    end
    return v
  end
  if type(v) ~= "string" or v:find("%c") then
    error(string.format("usage: %s: option '%s' must be a string without control characters", name, key), level + 1)
  end
  return v
end

-- options(name, opts, spec, level) -> opts or {} (see usage.api.validate.options)
function M.options(name, opts, spec, level)
  return validate.options(name, opts, spec, level + 1)
end

return M
