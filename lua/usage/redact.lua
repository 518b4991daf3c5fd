-- usage.redact: the one place where secrets are taken out of what leaves the library. A client has one
-- redactor; it knows the client secret, the Basic credentials, the proxy password and every access token
-- the client used (the last few). Whatever a server sent passes through it before it reaches data, an
-- error, meta or a log line, and nothing is cut (200 characters of a body, 400 of a line) before it is
-- redacted, so no part of a secret survives a cut either. Secrets of any length are redacted.

local M = {}

local MARK = "[REDACTED]"
M.MARK = MARK

local TOKEN_HISTORY = 4 -- tokens kept after they were replaced (a server may still echo an old one)

local Redactor = {}
Redactor.__index = Redactor

function M.new()
  return setmetatable({ fixed = {}, tokens = {}, list = {} }, Redactor)
end

local find, sub, concat = string.find, string.sub, table.concat

local function rebuild(self)
  local list = {}
  for _, s in ipairs(self.fixed) do list[#list + 1] = s end
  for _, s in ipairs(self.tokens) do list[#list + 1] = s end
  table.sort(list, function(a, b) return #a > #b end) -- the longest first: no secret half-hidden by another
  self.list = list
end

-- add(secret): a secret for as long as the client lives (an empty or missing one is ignored)
function Redactor:add(secret)
  if type(secret) == "string" and secret ~= "" then
    self.fixed[#self.fixed + 1] = secret
    rebuild(self)
  end
end

-- token(t): an access token now in use; the previous few stay secrets too
function Redactor:token(t)
  if type(t) ~= "string" or t == "" then return end
  for _, old in ipairs(self.tokens) do
    if old == t then return end
  end
  table.insert(self.tokens, 1, t)
  if #self.tokens > TOKEN_HISTORY then self.tokens[#self.tokens] = nil end
  rebuild(self)
end

-- Does s hold a secret? (a plain search per secret: cheap on whole response bodies)
function Redactor:holds(s)
  local list = self.list
  for i = 1, #list do
    if find(s, list[i], 1, true) then return true end
  end
  return false
end

-- text(s) -> s with every secret replaced by [REDACTED] (non-strings unchanged)
function Redactor:text(s)
  if type(s) ~= "string" or not self:holds(s) then return s end
  local list, out, pos = self.list, {}, 1
  while true do
    local best_i, best_j
    for k = 1, #list do
      local i, j = find(s, list[k], pos, true)
      if i and (not best_i or i < best_i) then best_i, best_j = i, j end
    end
    if not best_i then break end
    out[#out + 1] = sub(s, pos, best_i - 1)
    out[#out + 1] = MARK
    pos = best_j + 1
  end
  out[#out + 1] = sub(s, pos)
  return concat(out)
end

-- value(v) -> v with every string in it redacted (tables changed in place, keys too); depth-bounded
function Redactor:value(v, depth)
  local t = type(v)
  if t == "string" then return self:text(v) end
  if t ~= "table" or #self.list == 0 then return v end
  depth = depth or 0
  if depth > 200 then return v end
  local renamed
  for k, x in pairs(v) do
    if type(x) == "string" or type(x) == "table" then
      local y = self:value(x, depth + 1)
      if y ~= x then v[k] = y end
    end
    if type(k) == "string" and self:holds(k) then
      renamed = renamed or {}
      renamed[#renamed + 1] = k
    end
  end
  for _, k in ipairs(renamed or {}) do
    local x = v[k]
    v[k] = nil
    v[self:text(k)] = x
  end
  return v
end

-- decoded(value, raw) -> value redacted when it can hold a secret: a decoded JSON string is a verbatim
-- part of the raw text unless the text has escapes, so without escapes and without a secret in the raw
-- text there is nothing to do (the usual case, and it costs a few plain searches)
function Redactor:decoded(value, raw)
  if #self.list == 0 then return value end
  if find(raw, "\\", 1, true) or self:holds(raw) then return self:value(value) end
  return value
end

return M
