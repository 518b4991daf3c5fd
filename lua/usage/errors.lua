-- usage.errors: the error value every runtime failure returns (`nil, err`).
-- err = { status, code, message, correlation_id, retry_after, body, method, path, ... }
-- tostring(err) gives one line. Messages never carry tokens or secrets: every text that comes from
-- outside passes through the client's redactor before it lands here.

local M = {}

local error_mt = { __name = "usage.error" }

local function one_line(s)
  s = tostring(s or "")
  s = s:gsub("[%c]+", " ")
  if #s > 400 then s = s:sub(1, 397) .. "..." end
  return s
end

error_mt.__tostring = function(e)
  local parts = {}
  if e.status then parts[#parts + 1] = "HTTP " .. tostring(e.status) end
  if e.code then parts[#parts + 1] = tostring(e.code) end
  local head = table.concat(parts, " ")
  local line = head ~= "" and (head .. ": " .. one_line(e.message)) or one_line(e.message)
  if e.method and e.path then line = line .. " (" .. e.method .. " " .. e.path .. ")" end
  if e.correlation_id then line = line .. " [correlation id " .. tostring(e.correlation_id) .. "]" end
  return "usage: " .. line
end

-- Build an error value from a table of fields (at least code and message).
function M.new(fields)
  return setmetatable(fields, error_mt)
end

function M.is_error(v)
  return getmetatable(v) == error_mt
end

return M
