-- fake.query: validation of the query bodies and computation of their rows (pre-encoded JSON strings).

local util = require "fake.util"
local data = require "fake.data"
local json = require "fake.json"

local floor, format, concat, sort = math.floor, string.format, table.concat, table.sort
local quote = json.quote
local null = json.null

local M = {}

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local OLD_METRICS = { "Status200", "Status300", "Status400", "Status500", "Status429", "Requests" }
local NEW_METRICS = { "Requests", "Status200", "Status300", "Status400", "Status429", "Status500" }
local SEARCH_METRICS = { "Date", "ClientName", "HttpMethod", "TemplateUri", "Status200", "Status300", "Status400",
  "Status500", "Status429" }
local GRANULARITIES = { "Day", "Week", "Month" }

-- kind -> what the body may hold
M.kinds = {
  query = {
    gen = "old", scope = "org", granularity = true, metrics = OLD_METRICS,
    groupBy = { "OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod" },
    filters = {},
  },
  client_query = {
    gen = "old", scope = "client", granularity = true, metrics = OLD_METRICS,
    groupBy = { "OAuthClientId", "OrganizationId", "TemplateUri", "HttpMethod" },
    filters = {},
  },
  search = {
    gen = "old", scope = "org", metrics = SEARCH_METRICS,
    filters = {
      oauthClientNames = true, templateUris = true,
      httpMethods = { "GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "CONNECT", "OPTIONS", "TRACE" },
    },
  },
  agg = {
    gen = "new", scope = "org", granularity = true, sortBy = true, metrics = NEW_METRICS, max_span_days = 90,
    groupBy = { "OauthClientName", "OauthClientId", "UserId", "HttpMethod", "TemplateUri", "Platform" },
    filters = {
      templateUris = true, platforms = true, userIds = true, oauthClientIds = true,
      httpMethods = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" },
    },
  },
  summary = {
    gen = "old", scope = "client", metrics = OLD_METRICS, filters = {},
  },
  client_agg = {
    gen = "new", scope = "client", granularity = true, sortBy = true, metrics = NEW_METRICS, max_span_days = 90,
    groupBy = { "OrganizationId", "HttpMethod", "TemplateUri", "Platform" },
    filters = {
      templateUris = true, platforms = true, organizationIds = true,
      httpMethods = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" },
    },
  },
}
M.kinds.query.model = "ApiUsageOrganizationQuery"
M.kinds.client_query.model = "ApiUsageClientQuery"
M.kinds.search.model = "ApiUsageSimpleSearch"
M.kinds.agg.model = "OrganizationPublicApiUsageQueryRequest"
M.kinds.client_agg.model = "ClientPublicApiUsageQueryRequest"

for _, k in pairs(M.kinds) do
  -- the properties of the body model: anything else is an unknown property
  k.properties = { interval = true, metrics = true }
  if k.granularity then k.properties.granularity = true end
  if k.sortBy then k.properties.sortBy = true end
  if k.groupBy then k.properties.groupBy = true end
  for name in pairs(k.filters) do k.properties[name] = true end
  k.metric_set = set_of(k.metrics)
  k.group_set = set_of(k.groupBy or {})
  for name, f in pairs(k.filters) do
    if type(f) == "table" then k.filters[name] = set_of(f) end
  end
end

-- sortBy field names (compared case-insensitively) -> accessor of a group
local SORT_FIELDS = {
  date = function(g) return g.bucket end,
  requests = function(g) return g.req end,
  requestcount = function(g) return g.req end,
  status200 = function(g) return g.s200 end,
  status300 = function(g) return g.s300 end,
  status400 = function(g) return g.s400 end,
  status429 = function(g) return g.s429 end,
  status500 = function(g) return g.s500 end,
  oauthclientname = function(g) return g.client and data.clients[g.client].name end,
  oauthclientid = function(g) return g.client and data.clients[g.client].id end,
  userid = function(g) return g.user and data.users[g.user] end,
  httpmethod = function(g) return g.method end,
  templateuri = function(g) return g.template and data.templates[g.template] end,
  platform = function(g) return g.platform end,
  organizationid = function(g) return g.org and data.orgs[g.org].id end,
}

-- ---------------------------------------------------------------- validation

local function verr(code, field, message)
  return { status = 400, code = code, field = field, message = message }
end

local function is_absent(v) return v == nil or v == null end

local function string_list(body, field)
  local v = body[field]
  if is_absent(v) then return nil end
  if type(v) ~= "table" then
    return nil, verr("bad.request", field, field .. " must be an array of strings")
  end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n ~= #v then return nil, verr("bad.request", field, field .. " must be an array of strings") end
  for i = 1, #v do
    if type(v[i]) ~= "string" then
      return nil, verr("bad.request", field, field .. " must be an array of strings")
    end
  end
  return v
end

local function enum_list(body, field, allowed_list, allowed_set)
  local v, err = string_list(body, field)
  if err then return nil, err end
  if not v then return nil end
  for i = 1, #v do
    if not allowed_set[v[i]] then
      return nil, verr("invalid.value", field, format("Invalid value '%s' for %s; allowed values: %s",
        v[i], field, concat(allowed_list, ", ")))
    end
  end
  return v
end

local SORT_PROPERTIES = { fieldName = true, order = true }

-- the first (in sorted order) key of t that is not in allowed, or nil
local function unknown_key(t, allowed)
  local bad
  for k in pairs(t) do
    if not allowed[k] and (bad == nil or tostring(k) < tostring(bad)) then bad = k end
  end
  return bad
end

local function unknown_property(field, model)
  return verr("invalid.property", field,
    format("'%s' is not a property of %s", field, model))
end

-- Validate a request body for a kind. ctx.today: today (days since the epoch, UTC) for the one-year limit.
-- Returns spec or nil, err {status, code, field, message}.
function M.validate(kind_name, body, ctx)
  local kind = M.kinds[kind_name]
  if type(body) ~= "table" or json.is_array(body) or (#body > 0) then
    return nil, verr("bad.request", nil, "The request body must be a JSON object")
  end
  local spec = { kind = kind_name, gen = kind.gen }

  -- unknown properties (the body would not even deserialize into its model)
  local bad = unknown_key(body, kind.properties)
  if bad ~= nil then return nil, unknown_property(tostring(bad), kind.model) end

  -- interval
  if is_absent(body.interval) then
    return nil, verr("bad.request", "interval", "Missing required field 'interval'")
  end
  if type(body.interval) ~= "string" then
    return nil, verr("bad.request", "interval", "interval must be a string 'start/end'")
  end
  local iv, why = util.parse_interval(body.interval)
  if not iv then
    return nil, verr("invalid.date", "interval", "Invalid interval '" .. body.interval .. "': " .. why)
  end
  local first_day, last_day = util.interval_days(iv, kind.gen, ctx and ctx.old_interval_end)
  if not first_day then
    return nil, verr("invalid.date", "interval", "Invalid interval '" .. body.interval .. "': " .. last_day)
  end
  if kind.gen == "new" then
    -- documented limits of the aggregates jobs
    local today = ctx and ctx.today or floor(os.time() / 86400)
    local oldest = util.year_before(today)
    if iv.start < oldest * 86400 then
      return nil, verr("constraint.validation", "interval",
        format("The interval may not start more than one year ago (before %sT00:00:00Z)", util.ymd(oldest)))
    end
    if iv.span > kind.max_span_days * 86400 then
      return nil, verr("constraint.validation", "interval",
        format("The interval end may be at most %d days after its start", kind.max_span_days))
    end
  end
  if last_day - first_day > 1100 then
    return nil, verr("invalid.date", "interval", "The interval is too long (the fake computes at most 1100 days)")
  end
  spec.interval = { start = iv.start, finish = iv.finish, first_day = first_day, last_day = last_day }

  -- granularity
  spec.granularity = "Day"
  if kind.granularity and not is_absent(body.granularity) then
    local g = body.granularity
    if type(g) ~= "string" then return nil, verr("bad.request", "granularity", "granularity must be a string") end
    if not set_of(GRANULARITIES)[g] then
      return nil, verr("invalid.value", "granularity",
        "Invalid value '" .. g .. "' for granularity; allowed values: Day, Week, Month")
    end
    spec.granularity = g
  end

  -- metrics
  local metrics, err = enum_list(body, "metrics", kind.metrics, kind.metric_set)
  if err then return nil, err end
  if not metrics or #metrics == 0 then metrics = kind.metrics end
  spec.metrics = set_of(metrics)

  -- groupBy
  spec.groupBy = {}
  if kind.groupBy then
    local gb
    gb, err = enum_list(body, "groupBy", kind.groupBy, kind.group_set)
    if err then return nil, err end
    spec.groupBy = set_of(gb or {})
  end

  -- filters
  spec.filters = {}
  for name, allowed in pairs(kind.filters) do
    local list
    if type(allowed) == "table" then
      local allowed_list = {}
      for k in pairs(allowed) do allowed_list[#allowed_list + 1] = k end
      sort(allowed_list)
      list, err = enum_list(body, name, allowed_list, allowed)
    else
      list, err = string_list(body, name)
    end
    if err then return nil, err end
    if list and #list > 0 then spec.filters[name] = set_of(list) end
  end

  -- sortBy
  if kind.sortBy and not is_absent(body.sortBy) then
    local sb = body.sortBy
    if type(sb) ~= "table" then return nil, verr("bad.request", "sortBy", "sortBy must be an array") end
    spec.sortBy = {}
    for i = 1, #sb do
      local item = sb[i]
      if type(item) ~= "table" or json.is_array(item) or #item > 0 then
        return nil, verr("bad.request", "sortBy", "sortBy items must be objects {fieldName, order}")
      end
      bad = unknown_key(item, SORT_PROPERTIES)
      if bad ~= nil then return nil, unknown_property("sortBy." .. tostring(bad), "UsageQuerySortBy") end
      -- both properties are optional: an item without fieldName sorts by nothing
      local name = item.fieldName
      if not is_absent(name) and type(name) ~= "string" then
        return nil, verr("bad.request", "sortBy.fieldName", "sortBy.fieldName must be a string")
      end
      local acc
      if not is_absent(name) then
        acc = SORT_FIELDS[name:lower()]
        if not acc then
          return nil, verr("invalid.value", "sortBy.fieldName", "Invalid sortBy fieldName '" .. name .. "'")
        end
      end
      local order = item.order
      if is_absent(order) then order = "Asc" end
      if order ~= "Asc" and order ~= "Desc" then
        return nil, verr("invalid.value", "sortBy.order",
          "Invalid value '" .. tostring(order) .. "' for sortBy.order; allowed values: Asc, Desc")
      end
      if acc then spec.sortBy[#spec.sortBy + 1] = { acc = acc, desc = order == "Desc" } end
    end
  end

  -- "Query is too long. Try another request with less filters." (aggregates jobs): the fake's threshold is
  -- the number of values in all the filter arrays together (config max_filter_values, default 100)
  if kind.gen == "new" then
    local limit = ctx and ctx.max_filter_values or 100
    local n = 0
    for name in pairs(kind.filters) do
      local v = body[name]
      if type(v) == "table" then n = n + #v end
    end
    if n > limit then
      return nil, verr("query.too.long", nil, format("Query is too long. Try another request with less " ..
        "filters (%d filter values; the fake allows %d).", n, limit))
    end
  end
  return spec
end

-- ---------------------------------------------------------------- aggregation

local function index_set(names, lookup)
  if not names then return nil end
  local s = {}
  for n in pairs(names) do
    local v = lookup(n)
    if v then s[v] = true end
  end
  return s
end

local template_index = data.template_index

-- Build the record filter of a spec. ctx.client is the scoped data client (client scope).
local function make_filter(spec, ctx)
  local kind = M.kinds[spec.kind]
  local f = spec.filters
  local org_only = kind.scope == "org" and 1 or nil
  local client_only = kind.scope == "client" and ctx.client.index or nil
  local clients = index_set(f.oauthClientIds, function(id) return data.client_by_id[id] and data.client_by_id[id].index end)
  if f.oauthClientNames then
    clients = index_set(f.oauthClientNames,
      function(n) return data.client_by_name[n] and data.client_by_name[n].index end)
  end
  local users = index_set(f.userIds, function(id) return data.user_index[id] end)
  local orgs = index_set(f.organizationIds, function(id) return data.org_by_id[id] and data.org_by_id[id].index end)
  local templates = index_set(f.templateUris, function(t) return template_index[t] end)
  local methods, platforms = f.httpMethods, f.platforms
  return function(r)
    if org_only and r.org ~= org_only then return false end
    if client_only and r.client ~= client_only then return false end
    if clients and not clients[r.client] then return false end
    if users and not (r.user and users[r.user]) then return false end
    if orgs and not orgs[r.org] then return false end
    if templates and not templates[r.template] then return false end
    if methods and not methods[r.method] then return false end
    if platforms and not platforms[r.platform] then return false end
    return true
  end
end

-- which record dimensions a spec groups by: client, org, user, template, method, platform, date
local function dimensions(spec)
  local g, d = spec.groupBy, {}
  if spec.kind == "search" then
    local m = spec.metrics
    d.date = m.Date; d.client = m.ClientName; d.method = m.HttpMethod; d.template = m.TemplateUri
    return d
  end
  d.date = true
  if spec.kind == "summary" then d.client = true; return d end
  d.client = g.OAuthClientId or g.OauthClientId or g.OauthClientName
  d.org = g.OrganizationId
  d.user = g.UserId
  d.template = g.TemplateUri
  d.method = g.HttpMethod
  d.platform = g.Platform
  return d
end

local function default_less(a, b)
  if a.bucket ~= b.bucket then return (a.bucket or 0) < (b.bucket or 0) end
  local an = a.client and data.clients[a.client].name or ""
  local bn = b.client and data.clients[b.client].name or ""
  if an ~= bn then return an < bn end
  if (a.org or 0) ~= (b.org or 0) then return (a.org or 0) < (b.org or 0) end
  local au, bu = a.user and data.users[a.user] or "", b.user and data.users[b.user] or ""
  if au ~= bu then return au < bu end
  local at, bt = a.template and data.templates[a.template] or "", b.template and data.templates[b.template] or ""
  if at ~= bt then return at < bt end
  if (a.method or "") ~= (b.method or "") then return (a.method or "") < (b.method or "") end
  return (a.platform or "") < (b.platform or "")
end

-- Group the records of a spec. Returns an array of groups in output order.
function M.groups(spec, ctx)
  local iv = spec.interval
  local dims = dimensions(spec)
  local gran = spec.granularity or "Day"
  local keep = make_filter(spec, ctx)
  local groups, list = {}, {}
  data.each(iv.first_day, iv.last_day, keep, function(r)
    local bucket = dims.date and util.bucket(r.day, gran) or false
    local client = dims.client and r.client or false
    local org = dims.org and r.org or false
    local user = dims.user and (r.user or 0) or false
    local template = dims.template and r.template or false
    local method = dims.method and r.method or false
    local platform = dims.platform and r.platform or false
    local key = tostring(bucket) .. "|" .. tostring(client) .. "|" .. tostring(org) .. "|" .. tostring(user) ..
      "|" .. tostring(template) .. "|" .. tostring(method) .. "|" .. tostring(platform)
    local g = groups[key]
    if not g then
      g = {
        bucket = bucket or nil, client = client or nil, org = org or nil,
        user = (user and user ~= 0) and user or nil, template = template or nil,
        method = method or nil, platform = platform or nil,
        s200 = 0, s300 = 0, s400 = 0, s429 = 0, s500 = 0, req = 0,
      }
      groups[key] = g
      list[#list + 1] = g
    end
    g.s200 = g.s200 + r.s200; g.s300 = g.s300 + r.s300; g.s400 = g.s400 + r.s400
    g.s429 = g.s429 + r.s429; g.s500 = g.s500 + r.s500; g.req = g.req + r.req
  end)
  sort(list, default_less)
  if spec.sortBy and #spec.sortBy > 0 then
    for i, g in ipairs(list) do g.pos = i end
    local keys = spec.sortBy
    sort(list, function(a, b)
      for _, k in ipairs(keys) do
        local va, vb = k.acc(a), k.acc(b)
        if va ~= vb then
          if va == nil then return not k.desc end
          if vb == nil then return k.desc end
          if k.desc then return va > vb end
          return va < vb
        end
      end
      return a.pos < b.pos
    end)
  end
  return list
end

-- ---------------------------------------------------------------- row encoding

local function num(n) return format("%d", n) end

-- ApiUsageRow (old generation: query, client query, summary)
local function old_row(g, m)
  local b = {}
  if g.client then
    local c = data.clients[g.client]
    b[#b + 1] = '"clientId":' .. quote(c.id)
    b[#b + 1] = '"clientName":' .. quote(c.name)
  end
  if g.org then b[#b + 1] = '"organizationId":' .. quote(data.orgs[g.org].id) end
  if g.user then b[#b + 1] = '"userId":' .. quote(data.users[g.user]) end
  if g.template then b[#b + 1] = '"templateUri":' .. quote(data.templates[g.template]) end
  if g.method then b[#b + 1] = '"httpMethod":' .. quote(g.method) end
  if m.Status200 then b[#b + 1] = '"status200":' .. num(g.s200) end
  if m.Status300 then b[#b + 1] = '"status300":' .. num(g.s300) end
  if m.Status400 then b[#b + 1] = '"status400":' .. num(g.s400) end
  if m.Status500 then b[#b + 1] = '"status500":' .. num(g.s500) end
  if m.Status429 then b[#b + 1] = '"status429":' .. num(g.s429) end
  if m.Requests then b[#b + 1] = '"requests":' .. num(g.req) end
  if g.bucket then b[#b + 1] = '"date":"' .. util.ymd_time(g.bucket) .. '"' end
  return "{" .. concat(b, ",") .. "}"
end

-- OrganizationPublicApiUsage / ClientPublicApiUsage (new generation)
local function new_row(g, m, by_name_only)
  local b = {}
  if g.bucket then b[#b + 1] = '"date":"' .. util.ymd(g.bucket) .. '"' end
  if g.client then
    local c = data.clients[g.client]
    if by_name_only then
      b[#b + 1] = '"oauthClient":{"name":' .. quote(c.name) .. '}'
    else
      b[#b + 1] = '"oauthClient":{"id":' .. quote(c.id) .. ',"name":' .. quote(c.name) ..
        ',"selfUri":' .. quote(c.self_uri) .. '}'
    end
  end
  if g.user then
    local u = data.users[g.user]
    b[#b + 1] = '"user":{"id":"' .. u .. '","selfUri":"/api/v2/users/' .. u .. '"}'
  end
  if g.org then b[#b + 1] = '"organizationId":' .. quote(data.orgs[g.org].id) end
  if g.platform then b[#b + 1] = '"platform":' .. quote(g.platform) end
  if g.method then b[#b + 1] = '"httpMethod":' .. quote(g.method) end
  if g.template then b[#b + 1] = '"templateUri":' .. quote(data.templates[g.template]) end
  if m.Requests then b[#b + 1] = '"requestCount":' .. num(g.req) end
  if m.Status200 then b[#b + 1] = '"status200":' .. num(g.s200) end
  if m.Status300 then b[#b + 1] = '"status300":' .. num(g.s300) end
  if m.Status400 then b[#b + 1] = '"status400":' .. num(g.s400) end
  if m.Status429 then b[#b + 1] = '"status429":' .. num(g.s429) end
  if m.Status500 then b[#b + 1] = '"status500":' .. num(g.s500) end
  return "{" .. concat(b, ",") .. "}"
end

-- Simple search row (ApiUsageRow with the columns picked by metrics)
local function search_row(g, m)
  local b = {}
  if g.bucket then b[#b + 1] = '"date":"' .. util.ymd_time(g.bucket) .. '"' end
  if g.client then
    local c = data.clients[g.client]
    b[#b + 1] = '"clientId":' .. quote(c.id)
    b[#b + 1] = '"clientName":' .. quote(c.name)
  end
  if g.method then b[#b + 1] = '"httpMethod":' .. quote(g.method) end
  if g.template then b[#b + 1] = '"templateUri":' .. quote(data.templates[g.template]) end
  if m.Status200 then b[#b + 1] = '"status200":' .. num(g.s200) end
  if m.Status300 then b[#b + 1] = '"status300":' .. num(g.s300) end
  if m.Status400 then b[#b + 1] = '"status400":' .. num(g.s400) end
  if m.Status500 then b[#b + 1] = '"status500":' .. num(g.s500) end
  if m.Status429 then b[#b + 1] = '"status429":' .. num(g.s429) end
  return "{" .. concat(b, ",") .. "}"
end

-- Compute the rows of a spec: array of JSON object strings.
function M.rows(spec, ctx)
  local list = M.groups(spec, ctx)
  local m = spec.metrics
  local out = {}
  local kind = spec.kind
  if kind == "search" then
    for i, g in ipairs(list) do out[i] = search_row(g, m) end
  elseif kind == "agg" or kind == "client_agg" then
    local by_name_only = spec.groupBy.OauthClientName and not spec.groupBy.OauthClientId
    for i, g in ipairs(list) do out[i] = new_row(g, m, by_name_only) end
  else
    for i, g in ipairs(list) do out[i] = old_row(g, m) end
  end
  return out
end

-- ---------------------------------------------------------------- synthetic rows (config result_rows)

local ALL_OLD = set_of(OLD_METRICS)
local ALL_NEW = set_of(NEW_METRICS)
local ALL_SEARCH = set_of(SEARCH_METRICS)
local NC, NE, NP, NU = #data.clients, #data.pairs, #data.platforms, #data.users

-- Row i (0-based) of a synthetic result: every (day, client, endpoint of the data set, platform) once; the
-- endpoints are real (method, templateUri) pairs, the volumes those of a busy organization.
local function synth_group(i, start_day, kind)
  local c = i % NC
  local e = data.pairs[floor(i / NC) % NE + 1]
  local p = floor(i / (NC * NE)) % NP
  local day = start_day + floor(i / (NC * NE * NP))
  local req = 1000 + floor(util.rand(data.SEED, 77, i) * 100000)
  local s500 = floor(req * 0.0005)
  local s400 = floor(req * 0.01)
  local s429 = floor(s400 / 3)
  local s300 = floor(req * 0.001)
  return {
    bucket = day, client = c + 1, template = e.template, method = e.method,
    platform = data.platforms[p + 1], user = (kind == "agg") and ((i % NU) + 1) or nil,
    org = (kind == "client_agg" or kind == "query" or kind == "client_query") and ((i % #data.orgs) + 1) or nil,
    s200 = req - s500 - s400 - s300, s300 = s300, s400 = s400, s429 = s429, s500 = s500, req = req,
  }
end

-- A function i (0-based) -> row string for a synthetic result of a spec.
function M.synth_fn(spec)
  local kind = spec.kind
  local start_day = spec.interval and spec.interval.first_day or 0
  if kind == "search" then
    local m = spec.metrics or ALL_SEARCH -- the columns asked for (rows may then repeat a key)
    return function(i)
      local g = synth_group(i, start_day, kind)
      if not m.Date then g.bucket = nil end
      if not m.ClientName then g.client = nil end
      if not m.HttpMethod then g.method = nil end
      if not m.TemplateUri then g.template = nil end
      return search_row(g, m)
    end
  elseif kind == "agg" or kind == "client_agg" then
    return function(i)
      local g = synth_group(i, start_day, kind)
      if kind == "client_agg" then g.client = nil end
      return new_row(g, ALL_NEW, false)
    end
  end
  return function(i)
    local g = synth_group(i, start_day, kind)
    if kind == "client_query" or kind == "summary" then g.client = spec.client_index or g.client end
    g.platform = nil
    return old_row(g, ALL_OLD)
  end
end

return M
