-- usage.base.rows: one shape for a day of usage, whatever produced it. The rows of an aggregates job
-- (OrganizationPublicApiUsage, ClientPublicApiUsage), of the old generation (ApiUsageRow) and of the history
-- store all become the same plain table:
--   { date = "YYYY-MM-DD" | nil, client_id =, client_name =, organization_id =, user_id =, template_uri =,
--     http_method =, platform =, requests =, status200 =, status300 =, status400 =, status429 =, status500 = }
-- Strings are present only when the row had them (a job groups by some fields only); counts are numbers,
-- 0 when the row did not carry them. Nothing a server sent can make normalize raise.
--
-- It is also the one aggregation of those rows that the report, the metrics and the store share, so that
-- a client is named by one rule and a total is summed by one rule everywhere:
--   rows.sum(a, b) -> a + b, or nil when this interpreter cannot give that sum exactly
--   local agg = rows.aggregation { endpoints = true, pairs = true, client_days = true }
--   agg:add(api_row) / agg:add_normalized(row)      fold one row (totals, per client, per day, ...)
--   agg:exact() -> true | false, message             were all the sums exact?
--   agg:list("clients" | "endpoints" | "pairs" | "orgs")  the entries, unsorted; rows.rank(list, field) sorts
-- Rows of several organizations (the history store, several API clients) carry `org`, their label; with
-- { orgs = true } the aggregation keeps each org's totals and never merges clients of different orgs.
-- (see each function below for the details).

local M = {}

local floor, huge = math.floor, math.huge
local math_type, tointeger = math.type, math.tointeger
local byte, sub = string.byte, string.sub
local type = type

-- the count fields, in display order; 429 is part of 4xx
M.COUNTS = { "requests", "status200", "status300", "status400", "status429", "status500" }

-- normalize(row [, into]) -> a normalized row (a new table, or `into` filled in: a writer that reads each
-- row once and keeps none reuses one table); row: a decoded API row of either generation.
-- Written out without calls (every stored, reported and exported row passes here): a string field is kept
-- only when it is a string; a count only when it is a finite number (v - v == 0 fails for NaN and the
-- infinities), else 0; the date is the day "YYYY-MM-DD" it starts with ("2026-11-01",
-- "2026-11-01T00:00:00Z"), checked byte by byte (the pattern ^%d%d%d%d%-%d%d%-%d%d would keep LuaJIT
-- from compiling the loops that call this), else nil.
function M.normalize(row, into)
  if type(row) ~= "table" then row = {} end
  local date = row.date
  if type(date) == "string" then
    local y1, y2, y3, y4, d1, m1, m2, d2, a1, a2 = byte(date, 1, 10)
    if a2 and d1 == 45 and d2 == 45 and y1 >= 48 and y1 <= 57 and y2 >= 48 and y2 <= 57 and y3 >= 48 and
       y3 <= 57 and y4 >= 48 and y4 <= 57 and m1 >= 48 and m1 <= 57 and m2 >= 48 and m2 <= 57 and
       a1 >= 48 and a1 <= 57 and a2 >= 48 and a2 <= 57 then
      if #date ~= 10 then date = sub(date, 1, 10) end
    else
      date = nil
    end
  else
    date = nil
  end
  local client, user = row.oauthClient, row.user
  local client_id, client_name, user_id
  if type(client) == "table" then client_id, client_name = client.id, client.name end
  if type(client_id) ~= "string" then
    client_id = row.clientId
    if type(client_id) ~= "string" then client_id = nil end
  end
  if type(client_name) ~= "string" then
    client_name = row.clientName
    if type(client_name) ~= "string" then client_name = nil end
  end
  if type(user) == "table" then user_id = user.id end
  if type(user_id) ~= "string" then
    user_id = row.userId
    if type(user_id) ~= "string" then user_id = nil end
  end
  local organization_id, template_uri, http_method, platform = row.organizationId, row.templateUri, row.httpMethod,
                                                                row.platform
  if type(organization_id) ~= "string" then organization_id = nil end
  if type(template_uri) ~= "string" then template_uri = nil end
  if type(http_method) ~= "string" then http_method = nil end
  if type(platform) ~= "string" then platform = nil end
  local requests = row.requestCount
  if requests == nil or requests == false then requests = row.requests end
  local s200, s300, s400, s429, s500 = row.status200, row.status300, row.status400, row.status429, row.status500
  if type(requests) ~= "number" or requests - requests ~= 0 then requests = 0 end
  if type(s200) ~= "number" or s200 - s200 ~= 0 then s200 = 0 end
  if type(s300) ~= "number" or s300 - s300 ~= 0 then s300 = 0 end
  if type(s400) ~= "number" or s400 - s400 ~= 0 then s400 = 0 end
  if type(s429) ~= "number" or s429 - s429 ~= 0 then s429 = 0 end
  if type(s500) ~= "number" or s500 - s500 ~= 0 then s500 = 0 end
  if into then -- (every field is set: nothing of the previous row stays)
    into.date, into.client_id, into.client_name, into.organization_id = date, client_id, client_name, organization_id
    into.user_id, into.template_uri, into.http_method, into.platform = user_id, template_uri, http_method, platform
    into.requests, into.status200, into.status300, into.status400, into.status429, into.status500 =
      requests, s200, s300, s400, s429, s500
    return into
  end
  return {
    date = date, client_id = client_id, client_name = client_name, organization_id = organization_id,
    user_id = user_id, template_uri = template_uri, http_method = http_method, platform = platform,
    requests = requests, status200 = s200, status300 = s300, status400 = s400, status429 = s429, status500 = s500,
  }
end

---------------------------------------------------------------------------------------------------
-- exact sums

-- The largest count this interpreter adds exactly: Lua 5.4's integers go to 2^63-1; LuaJIT has only
-- doubles, whose whole numbers are exact up to 2^53 (2^53-1 is the last one whose successor is exact too).
M.MAX_EXACT_TEXT = math_type and "9,223,372,036,854,775,807 (2^63-1, Lua 5.4's integers)" or
                   "9,007,199,254,740,991 (2^53-1, the doubles of LuaJIT)"
local FLOAT_EXACT = 2 ^ 53 - 1

local function whole(v)
  return v == floor(v) and v ~= huge and v ~= -huge -- (NaN fails the first test)
end

local function float_sum(a, b)
  if not whole(a) or not whole(b) then return nil end
  if a == 0 then return b end -- (adding nothing is exact: a single count stays as it came)
  if b == 0 then return a end
  if a > FLOAT_EXACT or a < -FLOAT_EXACT or b > FLOAT_EXACT or b < -FLOAT_EXACT then return nil end
  local s = a + b
  if s > FLOAT_EXACT or s < -FLOAT_EXACT then return nil end
  return s
end

-- sum(a, b) -> a + b when it is exact, else nil: two whole numbers whose sum this interpreter holds exactly
-- (Lua 5.4: integers without wrapping around, floats that are whole integers converted first; LuaJIT:
-- whole doubles within +-(2^53-1)). Adding 0 gives the other number as it is. A fraction, an infinity or
-- NaN never sums.
function M.sum(a, b)
  if type(a) ~= "number" or type(b) ~= "number" then return nil end
  if math_type then
    local ia, ib = tointeger(a), tointeger(b)
    if ia and ib then
      local s = ia + ib -- wraps around on overflow: caught by the signs
      if (ib >= 0 and s < ia) or (ib < 0 and s > ia) then return nil end
      return s
    end
  end
  return float_sum(a, b)
end

local COUNTS = M.COUNTS

-- totals() -> { requests = 0, status200 = 0, ..., status500 = 0 }
function M.totals()
  return { requests = 0, status200 = 0, status300 = 0, status400 = 0, status429 = 0, status500 = 0 }
end

-- add_counts(t, r) -> true | nil, field: add the counts of r (a normalized row or totals) into t. A sum
-- that cannot be exact leaves t[field] as it was and sets t.inexact = { [field] = true, ... }.
local sum = M.sum
local function add_counts(t, r)
  local bad
  for i = 1, #COUNTS do
    local k = COUNTS[i]
    local v = r[k]
    if v ~= nil and v ~= 0 then
      local cur = t[k]
      local s
      if math_type and math_type(v) == "integer" and math_type(cur) == "integer" then
        s = cur + v -- (the common case, inline: integers, wrapping around on overflow, caught by the signs)
        if (v >= 0 and s < cur) or (v < 0 and s > cur) then s = nil end
      else
        s = sum(cur, v)
      end
      if s == nil then
        t.inexact = t.inexact or {}
        t.inexact[k] = true
        bad = bad or k
      else
        t[k] = s
      end
    elseif r.inexact and r.inexact[k] then -- (a total that was already inexact)
      t.inexact = t.inexact or {}
      t.inexact[k] = true
      bad = bad or k
    end
  end
  if bad then return nil, bad end
  return true
end

---------------------------------------------------------------------------------------------------
-- the aggregation

-- client_key(r) -> the key of a normalized row's client: its id, or its name when it has no id
function M.client_key(r)
  if r.client_id and r.client_id ~= "" then return "id:" .. r.client_id end
  return "name:" .. (r.client_name or "")
end

-- The name rule: a client is named by the name on its latest row (by date) that has one; rows of the same
-- day with different names: the greatest in byte order, so that the choice never depends on the order in
-- which rows arrive (the report's and the metrics' jobs hand them out in different orders). A row
-- without a date counts as the oldest.
local function rename(entry, name, date)
  if not name or name == "" then return end
  date = date or ""
  if entry.name == "" or date > entry.name_date or (date == entry.name_date and name > entry.name) then
    entry.name, entry.name_date = name, date
  end
end

local Aggregation = {}
Aggregation.__index = Aggregation

-- aggregation(opts) -> an empty aggregation. It always keeps the total, the totals per day (agg.daily)
-- and per client (agg.clients: key -> { key, id, name, requests, ... }); with opts.client_days each
-- client's totals per day too (entry.daily), with opts.endpoints the totals per endpoint (agg.endpoints:
-- "METHOD templateUri" -> { method, template_uri, ... }), with opts.pairs per client and endpoint
-- (agg.pairs: { client = the client's entry, method, template_uri, ... }); a row with neither httpMethod
-- nor templateUri adds to no endpoint and no pair. With opts.orgs, rows are of several organizations, each
-- labelled by its `org` field (a string; "" when absent): a client's key is its org and its id
-- (org_client_key), so that clients of different orgs are never merged, each client entry carries `org`,
-- and agg.orgs keeps each org's totals and its totals per day ({ key = org, org, daily, requests, ... });
-- endpoints are the API's, the same in every org, and are summed over the orgs (a pair is a client's, so
-- it stays in its org). Memory grows with the clients, endpoints, pairs and days, not with the rows.
function M.aggregation(opts)
  opts = opts or {}
  return setmetatable({
    opts = { client_days = opts.client_days, endpoints = opts.endpoints, pairs = opts.pairs, orgs = opts.orgs },
    total = M.totals(), daily = {}, clients = {}, endpoints = {}, pairs = {}, orgs = {}, rows = 0,
    first = nil, last = nil, problem = nil,
  }, Aggregation)
end

-- org_client_key(org, r) -> the key of a normalized row's client within its org: "org\0" .. client_key(r)
local function org_client_key(org, r)
  return (org or "") .. "\0" .. M.client_key(r)
end

-- what a total is the total of, in words (built only when a sum is not exact)
local function describe(kind, a, b)
  if kind == "total" then return "all rows" end
  if kind == "day" then return "the day " .. a end
  if kind == "org" then return "the org " .. a end
  if kind == "client" then return "the OAuth client " .. ((a.id ~= "" and a.id) or a.name) end
  if kind == "endpoint" then return "the endpoint " .. a end
  return "the OAuth client " .. a .. " on " .. b -- (a pair)
end

-- _add(t, r, kind, a, b): add_counts, and the first inexact sum is remembered with what it was the total of
function Aggregation:_add(t, r, kind, a, b)
  local ok, field = add_counts(t, r)
  if not ok and not self.problem then
    self.problem = { field = field, what = describe(kind, a, b) }
  end
end

-- agg:org(label) -> the entry of an org (made when missing: an org without rows still has its totals, 0)
function Aggregation:org(label)
  label = type(label) == "string" and label or ""
  local e = self.orgs[label]
  if not e then
    e = M.totals()
    e.key, e.org, e.daily = label, label, {}
    self.orgs[label] = e
  end
  return e
end

-- the entry of a normalized row's client (made when missing), and the row's org (nil without opts.orgs)
function Aggregation:_client(r, date)
  local org
  if self.opts.orgs then org = type(r.org) == "string" and r.org or "" end
  local key = org and org_client_key(org, r) or M.client_key(r)
  local client = self.clients[key]
  if not client then
    client = M.totals()
    client.key, client.id, client.name, client.name_date, client.org = key, r.client_id or "", "", "", org
    if self.opts.client_days then client.daily = {} end
    self.clients[key] = client
  end
  rename(client, r.client_name, date)
  return client, org
end

local function dated(self, date)
  if not self.first or date < self.first then self.first = date end
  if not self.last or date > self.last then self.last = date end
end

local function day_entry(map, date)
  local t = map[date]
  if not t then
    t = M.totals()
    map[date] = t
  end
  return t
end

-- agg:add_normalized(r) -> agg: fold one normalized row (see normalize; with opts.orgs, r.org labels it)
function Aggregation:add_normalized(r)
  local o = self.opts
  local date = r.date
  self.rows = self.rows + 1
  self:_add(self.total, r, "total")
  if date then
    dated(self, date)
    self:_add(day_entry(self.daily, date), r, "day", date)
  end
  local client, org = self:_client(r, date)
  if org then
    local oe = self:org(org)
    self:_add(oe, r, "org", org)
    if date then self:_add(day_entry(oe.daily, date), r, "org", org) end
  end
  self:_add(client, r, "client", client)
  if o.client_days and date then self:_add(day_entry(client.daily, date), r, "client", client) end
  if (o.endpoints or o.pairs) and (r.http_method or r.template_uri) then -- (rows of a job by client only: none)
    local method, uri = r.http_method or "", r.template_uri or ""
    local ekey = method .. " " .. uri
    if o.endpoints then
      local e = self.endpoints[ekey]
      if not e then
        e = M.totals()
        e.key, e.method, e.template_uri = ekey, method, uri
        self.endpoints[ekey] = e
      end
      self:_add(e, r, "endpoint", ekey)
    end
    if o.pairs then
      local pkey = client.key .. "\0" .. ekey
      local p = self.pairs[pkey]
      if not p then
        p = M.totals()
        p.key, p.client, p.method, p.template_uri = pkey, client, method, uri
        self.pairs[pkey] = p
      end
      self:_add(p, r, "pair", client.key, ekey)
    end
  end
  return self
end

-- agg:add_series(r) -> agg: fold a dated row into the series only: the totals per day (of the whole, of its
-- org, of its client), not the totals of the span. For a source that sums the span and the days apart (the
-- history store: one query per client and endpoint over the span, one per client and day), so that the
-- span's totals come from the first and the series from the second.
function Aggregation:add_series(r)
  local date = r.date
  if not date then return self end
  dated(self, date)
  self:_add(day_entry(self.daily, date), r, "day", date)
  local client, org = self:_client(r, date)
  if org then self:_add(day_entry(self:org(org).daily, date), r, "org", org) end
  if self.opts.client_days then self:_add(day_entry(client.daily, date), r, "client", client) end
  return self
end

-- agg:add(row) -> agg: fold one row as the API returns it (either generation; see normalize)
function Aggregation:add(row)
  return self:add_normalized(M.normalize(row))
end

-- agg:add_rows(rows) -> agg: every row of an array (a page)
function Aggregation:add_rows(list)
  for i = 1, #list do self:add(list[i]) end
  return self
end

-- agg:exact() -> true | false, message: whether every total is exact; the message names the first one that
-- is not, and the limit of this interpreter
function Aggregation:exact()
  local p = self.problem
  if not p then return true end
  return false, string.format("the total of %s of %s cannot be given exactly: it passes %s, the largest " ..
                              "count this interpreter adds exactly (or a count is not a whole number)", p.field,
                              p.what, M.MAX_EXACT_TEXT)
end

-- agg:list(kind) -> array of the entries of agg[kind] ("clients", "endpoints", "pairs"), unsorted
function Aggregation:list(kind)
  local out = {}
  for _, e in pairs(self[kind]) do out[#out + 1] = e end
  return out
end

-- rank(list, field [, names]) -> list, sorted in place: most `field` first, then most requests, then by
-- the names given (fields compared as strings, ascending; default: the entry's key), so that the order
-- never depends on the order of arrival
function M.rank(list, field, names)
  names = names or { "key" }
  table.sort(list, function(a, b)
    local x, y = a[field] or 0, b[field] or 0
    if x ~= y then return x > y end
    x, y = a.requests or 0, b.requests or 0
    if x ~= y then return x > y end
    for _, n in ipairs(names) do
      local u, v = tostring(a[n] or ""), tostring(b[n] or "")
      if u ~= v then return u < v end
    end
    return false
  end)
  return list
end

return M
