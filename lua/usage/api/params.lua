-- usage.api.params: the one argument engine. Every parameter a caller can give is one declarative entry
-- here: the path parameters (ids), the query parameters of the operations, the options of the flows and of
-- usage.new. An entry says what a value may be (type, range, pattern, enum, default), what it means (doc),
-- and how the command line spells it (flag, arg) and turns text into it (convert). Everything else is
-- derived from the entries:
--   the 11 operations (usage.api.operations) name theirs: params = { "clientId" }, query = { "pageSize" }
--   the flows (usage.flows) take the entries of their operations (page_size is pageSize, days is days, job
--     is the read's jobId, headers is headers), so a flow and its operation cannot disagree
--   usage.new (usage.client.options) checks its options with the set `client`
--   the command line builds its flags from entry.flag, entry.arg, entry.doc and entry.convert
-- A wrong argument is a programmer error: signature:check raises at the caller's call, before anything is
-- sent (as the official SDKs throw). The limits are usage.api.limits'.
--
--   params.entries[name]                  an entry: { name, type, min, max, ..., check(v), convert(text),
--                                         wire(v) }; params.poll, .retry, .rate_limit, .client: sets
--   params.signature { name, ids, body, options, body_optional } -> sig; sig:check(...) -> ids, body, opts
--   params.check_set(set, t [, where]) -> a checked copy | nil, "option 'x' ..."
--   params.text.number/choice/list/id(flag, ...) -> converters (text -> value | nil, "--flag: ...")

local core = require "usage.core"
local limits = require "usage.api.limits"
local regions = require "usage.api.regions"
local redact = require "usage.base.redact"

local M = {}

local format, concat, find, floor, type = string.format, table.concat, string.find, math.floor, type

-- a number in a message: whole numbers in full (1000000000, not 1e+09)
local function show(n)
  if n == floor(n) and n > -1e15 and n < 1e15 then return format("%.0f", n) end
  return format("%g", n)
end

local function a_type(t) return (t:match("^[aeiou]") and "an " or "a ") .. t end

---------------------------------------------------------------------------------------------------
-- values: check(entry, v) -> the value to use | nil, why ("must be ...")

local TYPES = {}

-- the ids seen good lately (a call polls or pages with the same ids again and again); at most GOOD_IDS
local GOOD_IDS = 256
local good_ids, good_count = {}, 0

function TYPES.id(_, v)
  if good_ids[v] then return v end
  if type(v) ~= "string" then return nil, "must be a string, got " .. type(v) end
  if v == "" or v == "." or v == ".." then return nil, format("must be a real id, got %q", v) end
  if #v > limits.MAX_ID or find(v, "%c") then
    return nil, format("contains control characters or is longer than %d", limits.MAX_ID)
  end
  if #v <= 64 then
    if good_count >= GOOD_IDS then good_ids, good_count = {}, 0 end
    good_ids[v], good_count = true, good_count + 1
  end
  return v
end

function TYPES.integer(e, v)
  if type(v) ~= "number" or v ~= floor(v) or v < e.min or v > e.max then
    return nil, format("must be an integer from %s to %s", show(e.min), show(e.max))
  end
  return v
end

function TYPES.number(e, v)
  if type(v) ~= "number" or not (v >= e.min and v <= e.max) then
    return nil, format("must be a number from %s to %s", show(e.min), show(e.max))
  end
  return v
end

-- a whole number written in digits (a string, as the service's `days`; a whole number is written so):
-- at most e.digits digits, at least e.min
function TYPES.digits(e, v)
  if type(v) == "number" and v == floor(v) and v >= 0 and v < 10 ^ e.digits then v = format("%d", v) end
  if type(v) ~= "string" or not v:match("^%d+$") or #v > e.digits or tonumber(v) < e.min then
    return nil, format("must be a whole number of %s from %s (at most %d digits)", e.unit or "units", show(e.min),
                       e.digits)
  end
  return v
end

function TYPES.string(e, v)
  if type(v) ~= "string" then return nil, "must be a string, got " .. type(v) end
  if e.controls == false and find(v, "%c") then return nil, "must be a string without control characters" end
  if e.crlf == false and core.has_crlf(v) then return nil, "must not contain CR, LF or NUL" end
  if e.max_length and #v > e.max_length then return nil, format("must be at most %d bytes long", e.max_length) end
  return v
end

-- one of e.values (a list), without case; the value is the listed spelling
function TYPES.enum(e, v)
  if type(v) == "string" then
    local lv = v:lower()
    for _, allowed in ipairs(e.values) do
      if allowed:lower() == lv then return allowed end
    end
  end
  return nil, "must be one of " .. concat(e.values, ", ")
end

for _, t in ipairs { "boolean", "function" } do
  TYPES[t] = function(_, v)
    if type(v) ~= t then return nil, "must be " .. a_type(t) .. ", got " .. type(v) end
    return v
  end
end

-- per-call headers: names are tokens, values strings without CR, LF or NUL, never Authorization (the
-- client's own); a copy with lower-case names
function TYPES.headers(_, h)
  if type(h) ~= "table" then return nil, "must be a table, got " .. type(h) end
  local out = {}
  for k, v in pairs(h) do
    if type(k) ~= "string" or not k:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
      return nil, format("has a header name %q that is not a valid token", tostring(k))
    end
    if type(v) ~= "string" or core.has_crlf(v) then
      return nil, format("has header '%s', which must be a string without CR, LF or NUL", k)
    end
    local lk = k:lower()
    if lk == "authorization" then return nil, "cannot set 'Authorization' (the client's own)" end
    out[lk] = v
  end
  return out
end

-- a table of named entries (e.fields, a set): each checked, a copy returned; e.or_false: false is allowed
-- too (turns the feature off)
function TYPES.table(e, v)
  if v == false and e.or_false then return false end
  if type(v) ~= "table" then return nil, "must be a table" .. (e.or_false and " or false" or "") .. ", got " .. type(v) end
  return M.check_set(e.fields, v)
end

local function check(e, v)
  local out, why = TYPES[e.type](e, v)
  if out == nil then return nil, why end
  if e.extra then
    local ok, reason = e.extra(out)
    if not ok then return nil, reason end
  end
  return out
end

---------------------------------------------------------------------------------------------------
-- text from the command line: converters (text) -> value | nil, "--flag: message"

local text = {}
M.text = text

local function quoted(v)
  v = tostring(v)
  if #v > 40 then v = v:sub(1, 37) .. "..." end
  return (format("%q", v):gsub("\\\n", "\\n"))
end

-- number(flag, { min =, max = }, integer) -> a number within min..max (whole with integer)
function text.number(flag, range, integer)
  return function(v)
    local n = tonumber(v)
    if not n or n ~= n or not v:match("^[%d%.eE%+%-]+$") then
      return nil, format("--%s: %s is not a number", flag, quoted(v))
    end
    if integer and n ~= floor(n) then return nil, format("--%s: %s is not a whole number", flag, quoted(v)) end
    if (range.min and n < range.min) or (range.max and n > range.max) then
      return nil, format("--%s: %s is out of range (%s..%s)", flag, v, show(range.min), show(range.max))
    end
    return n
  end
end

-- choice(flag, values [, what]) -> one of values, without case (the listed spelling)
function text.choice(flag, values, what)
  local e = { type = "enum", values = values }
  return function(v)
    local c = TYPES.enum(e, v)
    if not c then
      return nil, format("--%s: %s is not a valid %s; allowed: %s", flag, quoted(v), what or "value", concat(values, ", "))
    end
    return c
  end
end

-- split_commas("a, b,,c") -> { "a", "b", "c" }
function text.split_commas(v)
  local out = {}
  for item in (v .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item ~= "" then out[#out + 1] = item end
  end
  return out
end

-- list(flag, one) -> comma-separated items, each converted by one; at least one
function text.list(flag, one)
  return function(v)
    local out = {}
    for i, item in ipairs(text.split_commas(v)) do
      local c, why = one(item)
      if c == nil then return nil, why end
      out[i] = c
    end
    if #out == 0 then return nil, "--" .. flag .. " needs a value" end
    return out
  end
end

-- id(flag) -> what the id entries accept (path parameters, job ids)
function text.id(flag)
  return function(v)
    if v == "" or v == "." or v == ".." then return nil, format("--%s: %s is not an id", flag, quoted(v)) end
    if v:find("%c") then return nil, format("--%s: an id has no control characters", flag) end
    if #v > limits.MAX_ID then
      return nil, format("--%s: an id has at most %d characters, this one %d", flag, limits.MAX_ID, #v)
    end
    return v
  end
end

local function digits_text(e, flag)
  return function(v)
    local out = TYPES.digits(e, v)
    if not out then return nil, format("--%s: %s is not a whole number of at least %s", flag, quoted(v), show(e.min)) end
    return out
  end
end

-- the converter of an entry with a flag
local function converter(e)
  local flag = e.flag
  if e.type == "id" then return text.id(flag) end
  if e.type == "integer" or e.type == "number" then return text.number(flag, e, e.type == "integer") end
  if e.type == "digits" then return digits_text(e, flag) end
  if e.type == "enum" then return text.choice(flag, e.values) end
  return function(v)
    local out, why = check(e, v)
    if out == nil then return nil, "--" .. flag .. ": " .. why end
    return out
  end
end

---------------------------------------------------------------------------------------------------
-- entries

-- entry(e) -> e, completed: check(v) -> value | nil, why; wire(v) -> the text of a query parameter;
-- convert(text) (entries with a flag)
local function entry(name, e)
  e.name = name
  assert(TYPES[e.type], name)
  local typed = TYPES[e.type]
  e.check = e.extra and function(v) return check(e, v) end or function(v) return typed(e, v) end
  e.wire = (e.type == "integer") and function(v) return format("%d", v) end or function(v) return v end
  if e.flag then e.convert = converter(e) end
  return e
end

-- set(map) -> { entries = name -> entry, names = sorted names } (the entries named by their keys)
local function set(map)
  local names = {}
  for name, e in pairs(map) do
    if not e.name then entry(name, e) end
    names[#names + 1] = name
  end
  table.sort(names)
  return { entries = map, names = names }
end

-- check_set(set, t) -> a checked copy of t | nil, "option 'x' ..." (an option of an option: 'x.y')
function M.check_set(s, t)
  if type(t) ~= "table" then return nil, "must be a table, got " .. type(t) end
  local out = {}
  for k, v in pairs(t) do
    local e = s.entries[k]
    if not e then
      return nil, format("option '%s' is unknown (known: %s)", tostring(k), concat(s.names, ", "))
    end
    local value, why = e.check(v)
    if value == nil then
      local inner, rest = tostring(why):match("^option '([^']*)' (.*)$")
      if inner then return nil, format("option '%s.%s' %s", k, inner, rest) end
      return nil, format("option '%s' %s", k, why)
    end
    out[k] = value
  end
  if s.required then
    for _, k in ipairs(s.required) do
      if t[k] == nil then return nil, "needs " .. concat(s.required, " and ") end
    end
  end
  return out
end

local E = {}
M.entries = E

-- path parameters (the ids of the operations; jobId is also the flows' `job`: read this existing job)
E.clientId = entry("clientId", { type = "id", flag = "client-id", arg = "ID", doc = "the OAuth client's id" })
E.executionId = entry("executionId", { type = "id", doc = "the id of a submitted query (old generation)" })
E.jobId = entry("jobId", { type = "id", option = "job", flag = "job", arg = "ID",
  doc = "read the results of this existing job (its id is printed when a job starts) instead of submitting a " ..
        "new one" })

-- query parameters (their names as the service spells them; `option`: the flows' name)
E.pageSize = entry("pageSize", { type = "integer", min = limits.MIN_PAGE_SIZE, max = limits.MAX_PAGE_SIZE,
  default = limits.PAGE_SIZE, option = "page_size", flag = "page-size", arg = "N",
  doc = format("rows per page (default %d; the service's own: %d)", limits.PAGE_SIZE,
               limits.SERVICE_PAGE_SIZE) })
E.after = entry("after", { type = "string", controls = false, doc = "cursor of the next page" })
E.days = entry("days", { type = "digits", min = 1, digits = limits.SUMMARY_MAX_DIGITS, unit = "days",
  default = limits.SUMMARY_DAYS, flag = "days", arg = "N",
  doc = "number of days back (default " .. limits.SUMMARY_DAYS .. ")" })

-- every call: extra headers
E.headers = entry("headers", { type = "headers",
  doc = "extra request headers { name = value } (never Authorization; no CR, LF or NUL)" })

-- polling, for usage.new (the client's defaults) and each flow call
M.poll = set {
  interval = { type = "number", min = 0.001, max = 3600, default = limits.POLL_INTERVAL, flag = "poll-interval",
               arg = "SECONDS", doc = "the first wait before polling a query (seconds), doubling up to max_interval" },
  max_interval = { type = "number", min = 0.001, max = 3600, default = limits.POLL_MAX_INTERVAL,
                   doc = "the longest wait between polls (seconds)" },
  timeout = { type = "number", min = 0.001, max = 7 * 86400, default = limits.POLL_TIMEOUT, flag = "poll-timeout",
              arg = "SECONDS", doc = "give up on a query still running after this long (seconds): poll_timeout" },
}
E.poll = entry("poll", { type = "table", fields = M.poll, doc = "polling: { interval, max_interval, timeout }" })

-- the flows' own options
E.on_progress = entry("on_progress", { type = "function", doc = "called with the state of the flow as it goes" })
E.max_pages = entry("max_pages", { type = "integer", min = 1, max = limits.MAX_PAGES_LIMIT, default = limits.MAX_PAGES,
  doc = "the most pages of one job (a server handing out more: bad_response)" })

---------------------------------------------------------------------------------------------------
-- usage.new's options

-- A credential the client must keep out of everything it returns: no CR/LF, and at least
-- redact.MIN_SECRET bytes (a shorter one cannot be told apart from ordinary text, and no real client
-- secret or token is that short; docs/hardening.md)
function M.too_short(n)
  return format("is too short (%d byte%s): a secret under %d bytes cannot be redacted from errors and logs " ..
                "without cutting ordinary text, and no real one is that short", n, n == 1 and "" or "s",
                redact.MIN_SECRET)
end

local function secret(v)
  if v == "" then return false, "must not be empty" end
  if #v < redact.MIN_SECRET then return false, M.too_short(#v) end
  return true
end

local function hostname(v)
  if not v:match("^[%w%.%-]+$") or v:find("%.%.") or v:sub(1, 1) == "." then
    return false, "must be a host name such as mypurecloud.com"
  end
  return true
end

local region_keys = {}
for k in pairs(regions.by_key) do region_keys[#region_keys + 1] = k end
table.sort(region_keys)

M.retry = set {
  max_retries = { type = "integer", min = 0, max = 100, default = limits.MAX_RETRIES, doc = "retries of one request" },
  max_retry_time = { type = "number", min = 0, max = 86400, default = limits.MAX_RETRY_TIME,
                     doc = "seconds spent retrying one request at most" },
  max_retry_after = { type = "number", min = 0, max = 86400, default = limits.MAX_RETRY_AFTER,
                      doc = "a Retry-After longer than this ends the retries" },
}
M.rate_limit = set {
  requests = { type = "integer", min = 1, max = 1e6, doc = "requests ..." },
  per = { type = "number", min = 0.001, max = 86400, doc = "... per this many seconds" },
}
M.rate_limit.required = { "requests", "per" }

M.client = set {
  environment = { type = "string", extra = hostname, doc = "the environment, e.g. mypurecloud.ie" },
  region = { type = "enum", values = region_keys, flag = "region", arg = "REGION", doc = "a region key, e.g. eu_west_1" },
  base_url = { type = "string", crlf = false, doc = "the API's base URL (default https://api.<environment>)" },
  login_url = { type = "string", crlf = false, doc = "the login service's base URL (default https://login.<environment>)" },
  access_token = { type = "string", crlf = false, extra = secret, doc = "a token to use instead of logging in" },
  client_id = { type = "string", crlf = false, doc = "the OAuth client's id (client credentials)" },
  client_secret = { type = "string", crlf = false, extra = secret, doc = "the OAuth client's secret" },
  timeout = { type = "number", min = 0.001, max = 86400, default = limits.TIMEOUT, flag = "timeout", arg = "SECONDS",
              doc = "timeout of each HTTP request (seconds)" },
  connect_timeout = { type = "number", min = 0.001, max = 86400, default = limits.CONNECT_TIMEOUT,
                      doc = "timeout of each connection (seconds)" },
  retry = { type = "table", fields = M.retry, or_false = true, doc = "retries: { max_retries, max_retry_time, " ..
            "max_retry_after }, or false for none" },
  poll = E.poll,
  rate_limit = { type = "table", fields = M.rate_limit, doc = "a client-side budget { requests, per }" },
  logger = { type = "function", doc = "function(level, message, fields), one call per request" },
  user_agent = { type = "string", crlf = false, doc = "the User-Agent header (none by default)" },
  proxy = { type = "string", crlf = false, doc = "a proxy URL" },
  ca_file = { type = "string", doc = "a CA bundle file" },
  insecure = { type = "boolean", doc = "allow plain http to hosts that are not loopback" },
  validate = { type = "boolean", doc = "validate bodies before sending (default true)" },
  max_response_size = { type = "number", min = 1024, max = 2 ^ 40, default = limits.MAX_RESPONSE_SIZE,
                        doc = "bytes of one answer at most" },
  shared_dict = { type = "string", doc = "an nginx lua_shared_dict to share the token between workers" },
  thread_pool = { type = "string", doc = "the nginx thread pool of the OpenResty runtime" },
}

---------------------------------------------------------------------------------------------------
-- signatures: the arguments of a method (an operation's or a flow's)

local Signature = {}
Signature.__index = Signature

-- signature { name =, ids = { entry names, in argument order }, body = model name | nil,
--             options = { key -> entry } (the keys of the trailing options table),
--             body_optional = an option key: with that option given, the body may be absent }
function M.signature(s)
  local sig = setmetatable({ name = s.name, body = s.body, body_optional = s.body_optional, options = s.options,
                             ids = {}, id_names = {} }, Signature)
  for i, name in ipairs(s.ids) do
    sig.ids[i] = assert(E[name], name)
    sig.id_names[i] = name
  end
  local keys = {}
  for k in pairs(s.options) do keys[#keys + 1] = k end
  table.sort(keys)
  sig.known = concat(keys, ", ")
  return sig
end

local function fail(sig, message)
  error(format("usage: %s: %s", sig.name, message), 4) -- (fail, check, the method: the caller of the method)
end

-- the options of a call made without any: read only, and the same table every time (a caller may compare)
local NONE = setmetatable({}, { __newindex = function() error("usage: the options of a call are read only", 2) end })
M.NO_OPTIONS = NONE

-- sig:check(...) -> ids (array), body, opts (a checked copy; an empty read-only table when none): the
-- arguments of a call, in their places (ids..., [body], [opts]); raises at the caller of the method on a
-- wrong one
function Signature:check(...)
  local entries = self.ids
  local n = #entries
  local ids = { ... }
  for i = 1, n do
    if not good_ids[ids[i]] then -- (a good id seen lately needs no check again)
      local v, why = entries[i].check(ids[i])
      if v == nil then fail(self, format("argument #%d '%s' %s", i, self.id_names[i], why)) end
    end
  end
  local body, given
  if self.body then
    body, given = ids[n + 1], ids[n + 2]
  else
    given = ids[n + 1]
  end
  for i = n + 1, #ids do ids[i] = nil end
  local opts = NONE
  if given ~= nil then
    opts = {}
    if type(given) ~= "table" then
      fail(self, format("the options argument must be a table, got %s", type(given)))
    end
    local options = self.options
    for k, v in pairs(given) do
      local e = options[k]
      if not e then fail(self, format("option '%s' is unknown (known: %s)", tostring(k), self.known)) end
      local value, why = e.check(v)
      if value == nil then
        local inner, rest = tostring(why):match("^option '([^']*)' (.*)$")
        if inner then fail(self, format("option '%s.%s' %s", k, inner, rest)) end
        fail(self, format("option '%s' %s", k, why))
      end
      opts[k] = value
    end
  end
  if self.body and type(body) ~= "table" and not (body == nil and self.body_optional and opts[self.body_optional]) then
    fail(self, format("argument #%d 'body' must be a table (%s), got %s", n + 1, self.body, type(body)))
  end
  return ids, body, opts
end

return M
