-- usage.base.errors: the error value every runtime failure returns (`nil, err`).
-- err = { status, code, message, correlation_id, retry_after, body, method, path, ... }
-- tostring(err) gives one line. What a server sent reaches an error only through the client's redactor
-- (usage.base.redact), so no field holds a token or a secret.

local M = {}

local error_mt = { __name = "usage.error" }

local MAX_LINE = 400

local function one_line(s)
  s = tostring(s or "")
  s = s:gsub("[%c]+", " ")
  if #s > MAX_LINE then s = s:sub(1, MAX_LINE - 3) .. "..." end
  return s
end

error_mt.__tostring = function(e)
  local parts = {}
  if e.status then parts[#parts + 1] = "HTTP " .. tostring(e.status) end
  if e.code then parts[#parts + 1] = tostring(e.code) end
  local head = table.concat(parts, " ")
  local line = head ~= "" and (head .. ": " .. one_line(e.message)) or one_line(e.message)
  if e.method and e.path then line = line .. " (" .. e.method .. " " .. one_line(e.path) .. ")" end
  if e.correlation_id then line = line .. " [correlation id " .. one_line(e.correlation_id) .. "]" end
  return "usage: " .. line
end

-- Build an error value from a table of fields (at least code and message).
function M.new(fields)
  return setmetatable(fields, error_mt)
end

function M.is_error(v)
  return getmetatable(v) == error_mt
end

-- A server answer the client cannot use (wrong shape, wrong type): never raised, always returned.
function M.bad_response(message, fields)
  local e = fields or {}
  e.code, e.message = "bad_response", message
  return setmetatable(e, error_mt)
end

-- A trapped signal (usage.trap_signals) ended the wait or the transfer.
function M.interrupted(signal)
  return setmetatable({ code = "interrupted", signal = signal,
                        message = "interrupted by SIG" .. tostring(signal) }, error_mt)
end

return M
