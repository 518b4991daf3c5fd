-- usage.base.redact: the one place where secrets are taken out of what leaves the library. A client has one
-- redactor; it knows the client secret, the Basic credentials, the proxy's credentials and every access
-- token the client used (the last few), each in every form it travels in (as written, percent-decoded as
-- libcurl sends it, percent-encoded, base64 in a Basic header). Whatever a server sent passes through it
-- before it reaches data, an error, meta or a log line, and nothing is cut (200 characters of a body, 400
-- of a line) before it is redacted, so no part of a secret survives a cut either.
--
-- Redaction makes copies: the values the library itself uses (a login answer, a nextUri, a job id, the
-- token kept in an nginx shared dict) are never changed; only what leaves the library is redacted
-- (copy: a table is copied only where something changes).
--
-- A secret under MIN_SECRET bytes cannot be told apart from ordinary text: usage.new refuses such
-- credentials and usage.http.auth refuses such tokens (docs/hardening.md). Should one reach a redactor anyway,
-- it only replaces a value that is that secret as a whole, never a part of a longer string or a key.

local core = require "usage.core"

local M = {}

local MARK = "[REDACTED]"
M.MIN_SECRET = 8 -- bytes

local TOKEN_HISTORY = 4 -- tokens kept after they were replaced (a server may still echo an old one)

local Redactor = {}
Redactor.__index = Redactor

function M.new()
  return setmetatable({ fixed = {}, tokens = {}, list = {}, probes = {}, exact = {}, short = false,
                        marked = setmetatable({}, { __mode = "k" }) }, Redactor)
end

local find, sub, concat, gsub, char = string.find, string.sub, table.concat, string.gsub, string.char

local function percent_decode(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end
M.percent_decode = percent_decode

-- forms(secret [, in_url]) -> the spellings a secret travels or is echoed in: as given, and percent-encoded
-- with upper- and lower-case hex; in_url: the secret is written as in a URL's userinfo, which libcurl
-- sends percent-decoded, so the decoded form (and its encodings) too
function M.forms(secret, in_url)
  local out, seen = {}, {}
  local function put(s)
    if s ~= "" and not seen[s] then
      seen[s] = true
      out[#out + 1] = s
    end
  end
  put(secret)
  local plain = secret
  if in_url then
    plain = percent_decode(secret)
    put(plain)
  end
  local upper = core.percent_encode(plain)
  put(upper)
  put((gsub(upper, "%%(%x%x)", function(h) return "%" .. h:lower() end)))
  return out
end

-- userinfo_forms(user, password) -> every form of a URL's credentials (user and password as written in
-- the URL): the password's forms, "user:password" raw and decoded, and base64 of both (a Basic header)
function M.userinfo_forms(user, password)
  local out = M.forms(password, true)
  user = user or ""
  local pairs_ = { user .. ":" .. password, percent_decode(user) .. ":" .. percent_decode(password) }
  for _, p in ipairs(pairs_) do
    out[#out + 1] = p
    out[#out + 1] = core.base64(p)
  end
  return out
end

-- the longest common prefix of the strings of a list
local function common_prefix(forms)
  local p = forms[1]
  for i = 2, #forms do
    local f, n = forms[i], 0
    while n < #p and n < #f and p:byte(n + 1) == f:byte(n + 1) do n = n + 1 end
    p = sub(p, 1, n)
  end
  return p
end

-- list: every form of every secret, the longest first (for replacing: no secret half-hidden by another);
-- probes: the fewest plain searches that find any of them (holds(), run over whole response bodies): the
-- forms of one secret share a prefix (they differ from the first escaped character on), and a probe that
-- contains another one is not needed. A probe may match where no secret is: then text() finds nothing.
local function rebuild(self)
  local list, exact, seen, probes = {}, {}, {}, {}
  local function group(forms)
    local long = {}
    for _, s in ipairs(forms) do
      if #s < M.MIN_SECRET then
        exact[s] = true
      elseif not seen[s] then
        seen[s] = true
        list[#list + 1] = s
        long[#long + 1] = s
      end
    end
    if #long == 0 then return end
    local prefix = common_prefix(long)
    if #prefix >= M.MIN_SECRET then
      probes[#probes + 1] = prefix
    else
      for _, s in ipairs(long) do probes[#probes + 1] = s end
    end
  end
  for _, forms in ipairs(self.fixed) do group(forms) end
  for _, t in ipairs(self.tokens) do group(M.forms(t)) end
  table.sort(list, function(a, b) return #a > #b end)
  table.sort(probes, function(a, b) return #a < #b end)
  local needed = {}
  for _, p in ipairs(probes) do
    local covered = false
    for _, q in ipairs(needed) do
      if find(p, q, 1, true) then covered = true break end
    end
    if not covered then needed[#needed + 1] = p end
  end
  self.list, self.probes, self.exact, self.short = list, needed, exact, next(exact) ~= nil
end

-- add(secret): a secret for as long as the client lives, in each of its forms (M.forms); an empty or
-- missing one is ignored
function Redactor:add(secret)
  if type(secret) == "string" and secret ~= "" then
    self.fixed[#self.fixed + 1] = M.forms(secret)
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
  local probes = self.probes
  for i = 1, #probes do
    if find(s, probes[i], 1, true) then return true end
  end
  return false
end

-- text(s [, key]) -> s with every secret replaced by [REDACTED] (non-strings unchanged); a value that is a
-- short secret as a whole becomes [REDACTED] too, a key never
function Redactor:text(s, key)
  if type(s) ~= "string" then return s end
  if self.short and not key and self.exact[s] then return MARK end
  if not self:holds(s) then return s end
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

-- copy(v) -> v with every string in it (keys too) redacted: the same value when nothing changes, else a
-- copy (tables copied only along the paths that change, metatables kept); v itself is never changed
function Redactor:copy(v, depth)
  local t = type(v)
  if t == "string" then return self:text(v) end
  if t ~= "table" or (#self.list == 0 and not self.short) then return v end
  depth = depth or 0
  if depth > 200 then return v end
  local out
  for k, x in pairs(v) do
    local y, k2 = x, k
    local tx = type(x)
    if tx == "string" or tx == "table" then y = self:copy(x, depth + 1) end
    if type(k) == "string" then k2 = self:text(k, true) end
    if y ~= x or k2 ~= k then
      if not out then
        out = {}
        for a, b in pairs(v) do out[a] = b end
        setmetatable(out, getmetatable(v))
      end
      if k2 ~= k then out[k] = nil end
      out[k2] = y
    end
  end
  return out or v
end


-- mark(value, raw): note that a value decoded from raw (a response body) may hold a secret: a decoded
-- JSON string is a verbatim part of the raw text unless the text has escapes, so without escapes and
-- without a secret in the raw text there is nothing to redact (the usual case: a few plain searches)
function Redactor:mark(value, raw)
  if type(value) ~= "table" or (#self.list == 0 and not self.short) then return value end
  if self.short or find(raw, "\\", 1, true) or self:holds(raw) then self.marked[value] = true end
  return value
end

-- mark_part(part, whole): part (e.g. a page's rows) came from whole, which was marked
function Redactor:mark_part(part, whole)
  if type(part) == "table" and self.marked[whole] then self.marked[part] = true end
end

-- out(v) -> what may leave the library of a decoded value: a redacted copy when it was marked, else v
function Redactor:out(v)
  if type(v) == "table" and self.marked[v] then return self:copy(v) end
  return v
end

-- M.unescape_json(s): the JSON string escapes of a text that did not decode as JSON (a cut or broken
-- body) undone, so that a secret spelled with \u escapes is seen (and redacted) before the text is shown
local ESC = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ["/"] = "/", ["\\"] = "\\", ['"'] = '"' }
local floor = math.floor
local function utf8_of(hex)
  local c = tonumber(hex, 16)
  if c < 0x80 then return char(c) end
  if c < 0x800 then return char(0xC0 + floor(c / 64), 0x80 + c % 64) end
  return char(0xE0 + floor(c / 4096), 0x80 + floor(c / 64) % 64, 0x80 + c % 64)
end
function M.unescape_json(s)
  if not find(s, "\\", 1, true) then return s end
  s = gsub(s, "\\u(%x%x%x%x)", utf8_of)
  return (gsub(s, "\\([bfnrt/\\\"])", ESC))
end

return M
