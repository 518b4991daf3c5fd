-- Specs of the fake Genesys Cloud itself (spec/fakecloud): endpoints, errors, lifecycles, paging, sums,
-- faults, rate limit, request log, control API and launcher. Runs under lua5.4 and luajit busted.

local fakecloud = require "fakecloud"
local core = require "usage.core"
local cjson = require("cjson").new()

local fake, http, TOKEN
local catalog

-- ---------------------------------------------------------------- helpers

local function J(s)
  if type(s) ~= "string" then return nil end
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  return nil
end

local function is_null(v) return v == nil or v == cjson.null end

-- UTC dates relative to today, by the real clock (the fake's one-year limit of aggregates jobs uses it too):
-- D(-3) is the date three days ago, "yyyy-MM-dd"
local function D(offset) return os.date("!%Y-%m-%d", os.time() + offset * 86400) end

local IV = D(-30) .. "/" .. D(-28)  -- three recent days: valid for every operation
local JOB = D(-30) .. "/" .. D(-29) -- where any valid interval does

-- wall clock in seconds (sub-second) from the fake's own request log times would be circular: use date +%s.%N
local function clock()
  local fh = io.popen("date +%s.%N")
  local s = fh:read("*l")
  fh:close()
  return tonumber(s)
end

local function nkeys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1) ..
      (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

-- HTTP to the fake. o.token (false = none), o.json (encoded body), o.body, o.headers, o.ct
local function call(method, path, o)
  o = o or {}
  local headers = {}
  if o.token ~= false then headers.authorization = "Bearer " .. (o.token or TOKEN) end
  local body = o.body
  if o.json ~= nil then
    body = type(o.json) == "string" and o.json or cjson.encode(o.json)
    headers["content-type"] = "application/json"
  end
  if o.ct then headers["content-type"] = o.ct end
  for k, v in pairs(o.headers or {}) do headers[k] = v end
  local url = path:match("^http") and path or (fake.base_url .. path)
  local st, h, b = http:request { method = method, url = url, headers = headers, body = body,
    timeout = o.timeout or 15, connect_timeout = 2 }
  if not st then return { status = nil, code = h, message = b } end
  return { status = st, headers = h, body = b, json = J(b) }
end

local function get(path, o) return call("GET", path, o) end
local function post(path, json, o)
  o = o or {}
  o.json = json
  return call("POST", path, o)
end

local function login(id, secret, form, headers)
  local h = { ["content-type"] = "application/x-www-form-urlencoded" }
  if id then h.authorization = "Basic " .. base64(id .. ":" .. secret) end
  for k, v in pairs(headers or {}) do h[k] = v end
  return call("POST", "/oauth/token", { token = false, headers = h, body = form or "grant_type=client_credentials" })
end

local function assert_error(r, status, code, field)
  assert.are.equal(status, r.status, r.body)
  assert.is_table(r.json, r.body)
  assert.are.equal(code, r.json.code)
  assert.are.equal(status, r.json.status)
  assert.is_string(r.json.message)
  assert.are.equal(r.headers["inin-correlation-id"], r.json.contextId)
  assert.is_table(r.json.details)
  if field then
    assert.are.equal(1, #r.json.details)
    assert.are.equal(field, r.json.details[1].fieldName)
    assert.is_string(r.json.details[1].errorCode)
  end
end

local P = {
  query = "/api/v2/usage/query",
  search = "/api/v2/usage/simplesearch",
  agg = "/api/v2/usage/aggregates/query/jobs",
}
local function client_path(id) return "/api/v2/oauth/clients/" .. id .. "/usage/query" end
local function client_agg_path(id) return "/api/v2/usage/client/" .. id .. "/aggregates/query/jobs" end

local FINAL = { Complete = true, Failed = true, Succeeded = true, Cancelled = true }

-- GET a results URI until the status is final; returns the last response and the statuses seen
local function poll(uri, query, o)
  local seen = {}
  for _ = 1, 50 do
    local r = get(uri .. (query or ""), o)
    assert.are.equal(200, r.status, r.body)
    seen[#seen + 1] = r.json.queryStatus
    if FINAL[r.json.queryStatus] then return r, seen end
  end
  error("never final: " .. table.concat(seen, ","))
end

local function run_old(path, body)
  local r = post(path, body)
  assert.are.equal(200, r.status, r.body)
  local final = poll(r.json.resultsUri)
  assert.are.equal("Complete", final.json.queryStatus, final.body)
  return final, r
end

-- submit an aggregates job, wait, and collect every page (following nextUri)
local function run_new(path, body, page_size)
  local r = post(path, body)
  assert.are.equal(200, r.status, r.body)
  local first = poll(r.json.selfUri, page_size and ("?pageSize=" .. page_size) or nil)
  assert.are.equal("Succeeded", first.json.queryStatus, first.body)
  local rows, pages, page = {}, { first }, first
  while true do
    for _, e in ipairs(page.json.entities) do rows[#rows + 1] = e end
    if is_null(page.json.nextUri) then break end
    page = get(page.json.nextUri)
    assert.are.equal(200, page.status, page.body)
    pages[#pages + 1] = page
    assert.is_true(#pages < 1000)
  end
  return rows, pages, r
end

local function search_all(body, page_size)
  local r = post(P.search, body)
  assert.are.equal(200, r.status, r.body)
  local q = page_size and ("?pageSize=" .. page_size) or ""
  local page = poll(r.json.resultsUri, q)
  local rows, pages = {}, 0
  while true do
    pages = pages + 1
    assert.are.equal("Complete", page.json.queryStatus)
    for _, e in ipairs(page.json.results) do rows[#rows + 1] = e end
    local cur = page.json.cursors
    if is_null(cur) or is_null(cur.after) then break end
    local sep = q == "" and "?" or (q .. "&")
    page = get(r.json.resultsUri .. sep .. "after=" .. cur.after)
    assert.are.equal(200, page.status, page.body)
  end
  return rows, pages
end

-- ---------------------------------------------------------------- independent computation

-- date helpers written independently of the fake (os.time/os.date at local noon)
local function day_time(ymd)
  local y, m, d = ymd:match("^(%d+)-(%d+)-(%d+)")
  return os.time { year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12 }
end
local function week_start(ymd)
  local t = day_time(ymd)
  local wday = os.date("*t", t).wday -- 1 = Sunday
  return os.date("%Y-%m-%d", t - ((wday + 5) % 7) * 86400)
end
local function month_start(ymd) return ymd:sub(1, 7) .. "-01" end

local COUNTS = { "status200", "status300", "status400", "status429", "status500", "requests" }

-- records: raw records from /__fake/data; keyfn(rec) -> key or nil (filtered out)
local function expect_sums(records, keyfn)
  local out = {}
  for _, rec in ipairs(records) do
    local k = keyfn(rec)
    if k then
      local g = out[k]
      if not g then
        g = { status200 = 0, status300 = 0, status400 = 0, status429 = 0, status500 = 0, requests = 0 }
        out[k] = g
      end
      for _, c in ipairs(COUNTS) do g[c] = g[c] + rec[c] end
    end
  end
  return out
end

local function compare_sums(expected, rows, keyfn, count_names)
  count_names = count_names or {}
  local seen = {}
  for _, row in ipairs(rows) do
    local k = keyfn(row)
    assert.is_nil(seen[k], "duplicate row key " .. tostring(k))
    seen[k] = true
    local e = expected[k]
    assert.is_table(e, "unexpected row " .. tostring(k))
    for _, c in ipairs(COUNTS) do
      local name = count_names[c] or c
      if row[name] ~= nil then
        assert.are.equal(string.format("%d", e[c]), string.format("%d", row[name]), k .. " " .. name)
      end
    end
  end
  assert.are.equal(nkeys(expected), nkeys(seen))
end

-- a + b on decimal digits (non-negative integers as strings or numbers): exact beyond 2^53 on every interpreter
local function dec_add(a, b)
  a = type(a) == "number" and string.format("%d", a) or a
  b = type(b) == "number" and string.format("%d", b) or b
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry + (i > 0 and a:byte(i) - 48 or 0) + (j > 0 and b:byte(j) - 48 or 0)
    out[#out + 1] = string.char(48 + d % 10)
    carry = math.floor(d / 10)
    i, j = i - 1, j - 1
  end
  local text = table.concat(out):reverse():gsub("^0+", "")
  return text == "" and "0" or text
end

local function client_named(name)
  for _, c in ipairs(catalog.clients) do
    if c.name == name then return c end
  end
  error("no client named " .. name)
end

-- the faults of log entries, in order (entries without one are left out)
local function H_faults(log)
  local out = {}
  for _, e in ipairs(log) do
    if e.fault then out[#out + 1] = e.fault end
  end
  return out
end

local function k(...)
  local t = { ... }
  for i = 1, select("#", ...) do t[i] = tostring(t[i] == nil and "-" or t[i]) end
  return table.concat(t, "|")
end

-- ---------------------------------------------------------------- suite

describe("fake cloud", function()
  setup(function()
    fake = fakecloud.start { gzip = true }
    http = core.session { user_agent = "fakecloud-spec/1" }
    TOKEN = fake:token("demo")
    catalog = fake:catalog()
  end)

  teardown(function()
    if http then http:close() end
    if fake then fake:stop() end
  end)

  before_each(function()
    fake:reset()
  end)

  describe("launcher", function()
    it("exposes base_url, port, pid, prefix and the auth clients", function()
      assert.are.equal("http://127.0.0.1:" .. fake.port, fake.base_url)
      assert.is_number(fake.pid)
      assert.is_truthy(io.open(fake.prefix .. "/conf/nginx.conf"))
      assert.are.same({ id = "demo-client", secret = "demo-secret" }, fakecloud.clients.demo)
      for _, key in ipairs({ "org_viewer", "client_viewer", "search_viewer", "no_perms" }) do
        assert.is_string(fakecloud.clients[key].id)
        assert.is_string(fakecloud.clients[key].secret)
      end
      assert.are.equal(200, get("/__fake/health", { token = false }).status)
    end)

    it("starts a second fake on its own port and stops it idempotently, removing the prefix", function()
      local other = fakecloud.start { gzip = false, config = { latency = 0 } }
      assert.are_not.equal(fake.port, other.port)
      local st = http:request { method = "GET", url = other.base_url .. "/__fake/health" }
      assert.are.equal(200, st)
      local prefix = other.prefix
      assert.is_true(other:stop())
      assert.is_true(other:stop())
      assert.is_nil(io.open(prefix .. "/conf/nginx.conf"))
      assert.is_nil((http:request { method = "GET", url = other.base_url .. "/__fake/health", connect_timeout = 1 }))
      assert.has_error(function() other:config {} end)
    end)

    it("raises a clear error for a bad config", function()
      assert.has_error(function() fake:config { no_such_knob = 1 } end)
      assert.has_error(function() fake:config { lifecycle = { polls = -1 } } end)
      assert.has_error(function() fake:fault { fault = "nope" } end)
    end)
  end)

  describe("POST /oauth/token", function()
    it("grants a bearer token to every configured client", function()
      for _, c in pairs(fakecloud.clients) do
        local r = login(c.id, c.secret)
        assert.are.equal(200, r.status, r.body)
        assert.is_string(r.json.access_token)
        assert.is_true(#r.json.access_token >= 20)
        assert.are.equal("bearer", r.json.token_type)
        assert.are.equal(86400, r.json.expires_in)
        assert.is_string(r.headers["inin-correlation-id"])
        assert.are.equal("application/json", r.headers["content-type"])
      end
    end)

    it("issues tokens that work, with a configurable lifetime", function()
      fake:config { token_expires_in = 300 }
      local r = login("demo-client", "demo-secret")
      assert.are.equal(300, r.json.expires_in)
      local r2 = post(P.agg, { interval = JOB }, { token = r.json.access_token })
      assert.are.equal(200, r2.status, r2.body)
      local log = fake:log()
      assert.are.equal("demo-client", log[#log].client_id)
    end)

    it("also accepts client_id/client_secret in the form", function()
      local r = login(nil, nil, "grant_type=client_credentials&client_id=org-viewer&client_secret=org-viewer-secret")
      assert.are.equal(200, r.status, r.body)
    end)

    it("rejects bad credentials, grant types and content types with OAuth errors", function()
      local r = login("demo-client", "wrong")
      assert.are.equal(400, r.status)
      assert.are.equal("invalid_client", r.json.error)
      assert.is_string(r.json.error_description)
      r = login("nobody", "x")
      assert.are.equal("invalid_client", r.json.error)
      r = login("demo-client", "demo-secret", "grant_type=password")
      assert.are.equal(400, r.status)
      assert.are.equal("unsupported_grant_type", r.json.error)
      r = login("demo-client", "demo-secret", nil, { ["content-type"] = "application/json" })
      assert.are.equal(400, r.status)
      assert.are.equal("invalid_request", r.json.error)
    end)

    it("throttles with 400 invalid_request ... rate limit exceeded (token_throttle fault)", function()
      fake:fault { fault = "token_throttle", count = 2 }
      for _ = 1, 2 do
        local r = login("demo-client", "demo-secret")
        assert.are.equal(400, r.status)
        assert.are.equal("invalid_request", r.json.error)
        assert.is_truthy(r.json.error_description:lower():find("rate limit exceeded", 1, true))
      end
      assert.are.equal(200, login("demo-client", "demo-secret").status)
      -- API requests are not affected by token_throttle
      fake:fault { fault = "token_throttle" }
      assert.are.equal(200, post(P.agg, { interval = JOB }).status)
      assert.are.equal(1, #fake:faults())
    end)
  end)

  describe("authentication and permissions", function()
    it("answers 401 authentication.required without a bearer token", function()
      assert_error(get("/api/v2/usage/query/x/results", { token = false }), 401, "authentication.required")
      assert_error(get("/api/v2/usage/query/x/results", { token = false, headers = { authorization = "Basic abc" } }),
        401, "authentication.required")
    end)

    it("answers 401 bad.credentials for an unknown token", function()
      assert_error(post(P.query, { interval = JOB }, { token = "not-a-token" }), 401, "bad.credentials")
    end)

    it("answers 401 credentials.expired for an expired token", function()
      local t = fake:token("demo", 0)
      assert_error(post(P.query, { interval = JOB }, { token = t }), 401, "credentials.expired")
      fake:config { token_expires_in = 1 }
      local r = login("demo-client", "demo-secret")
      assert.are.equal(200, post(P.query, { interval = JOB }, { token = r.json.access_token }).status)
    end)

    it("answers the status fault's 401 like an unknown token (bad.credentials); 408, 409, 413 with their codes", function()
      local codes = { [401] = "bad.credentials", [403] = "not.authorized", [408] = "client.timeout",
        [409] = "request.conflict", [413] = "request.entity.too.large" }
      for st, code in pairs(codes) do
        fake:fault { fault = "status", status = st }
        assert_error(post(P.agg, { interval = JOB }), st, code)
      end
      fake:fault { fault = "status", status = 401 }
      local a = post(P.agg, { interval = JOB })
      local b = post(P.agg, { interval = JOB }, { token = "not-a-token" })
      assert.are.equal(b.json.message, a.json.message)
      -- the token was not revoked by the fault (expired_token does that)
      assert.are.equal(200, post(P.agg, { interval = JOB }).status)
    end)

    it("checks the permissions of each operation (any one of the listed)", function()
      local cid = catalog.clients[1].id
      local ops = {
        { "POST", P.query, { "oauth:client:view", "usage:organization:view" } },
        { "POST", P.search, { "oauth:client:view", "usage:simpleSearch:view" } },
        { "POST", P.agg, { "usage:organization:view" } },
        { "POST", client_path(cid), { "oauth:client:view", "usage:client:view" } },
        { "POST", client_agg_path(cid), { "usage:client:view" } },
        { "GET", "/api/v2/oauth/clients/" .. cid .. "/usage/summary", { "oauth:client:view", "usage:client:view" } },
        { "GET", "/api/v2/usage/query/x/results", { "oauth:client:view", "usage:organization:view" } },
        { "GET", "/api/v2/usage/simplesearch/x/results", { "oauth:client:view", "usage:simpleSearch:view" } },
        { "GET", "/api/v2/usage/aggregates/query/jobs/x", { "usage:organization:view" } },
        { "GET", "/api/v2/usage/client/" .. cid .. "/aggregates/query/jobs/x", { "usage:client:view" } },
        { "GET", "/api/v2/oauth/clients/" .. cid .. "/usage/query/results/x", { "oauth:client:view", "usage:client:view" } },
      }
      local perms = {
        demo = { ["oauth:client:view"] = true, ["usage:client:view"] = true, ["usage:organization:view"] = true,
          ["usage:simpleSearch:view"] = true },
        org_viewer = { ["usage:organization:view"] = true },
        client_viewer = { ["usage:client:view"] = true },
        search_viewer = { ["usage:simpleSearch:view"] = true },
        no_perms = {},
      }
      for who, have in pairs(perms) do
        local tok = fake:token(who)
        for _, op in ipairs(ops) do
          local allowed = false
          for _, p in ipairs(op[3]) do allowed = allowed or have[p] or false end
          local r = call(op[1], op[2], { token = tok, json = op[1] == "POST" and { interval = JOB } or nil })
          if allowed then
            assert.are_not.equal(403, r.status, who .. " " .. op[2])
          else
            assert_error(r, 403, "missing.any.permissions")
            for _, p in ipairs(op[3]) do
              assert.is_truthy(r.json.message:find(p, 1, true), r.json.message)
            end
          end
        end
      end
    end)
  end)

  describe("request validation", function()
    local iv = D(-30) .. "T00:00:00.000Z/" .. D(-28) .. "T00:00:00.000Z"

    it("requires application/json bodies (415)", function()
      assert_error(call("POST", P.query, { body = cjson.encode { interval = iv }, ct = "text/plain" }),
        415, "unsupported.media.type")
      assert_error(call("POST", P.agg, { body = "interval=x" }), 415, "unsupported.media.type")
      -- parameters after the media type are fine
      assert.are.equal(200, call("POST", P.agg, { body = cjson.encode { interval = iv },
        ct = "application/json; charset=UTF-8" }).status)
    end)

    it("answers 400 bad.request for broken JSON and a missing interval", function()
      assert_error(post(P.query, "{not json"), 400, "bad.request")
      assert_error(post(P.query, "[1,2]"), 400, "bad.request")
      assert_error(post(P.query, { granularity = "Day" }), 400, "bad.request", "interval")
      assert_error(post(P.agg, { metrics = { "Requests" } }), 400, "bad.request", "interval")
      assert_error(post(P.search, {}), 400, "bad.request", "interval")
    end)

    it("answers 400 invalid.date for malformed, reversed or empty intervals", function()
      assert_error(post(P.query, { interval = "yesterday" }), 400, "invalid.date", "interval")
      assert_error(post(P.query, { interval = "2025-13-01/2025-14-01" }), 400, "invalid.date", "interval")
      assert_error(post(P.query, { interval = "2025-02-30/2025-03-01" }), 400, "invalid.date", "interval")
      assert_error(post(P.agg, { interval = D(-20) .. "/" .. D(-24) }), 400, "invalid.date", "interval")
      -- the old generation counts [start, end): an end equal to the start leaves nothing
      assert_error(post(P.query, { interval = D(-20) .. "/" .. D(-20) }), 400, "invalid.date", "interval")
      assert_error(post(P.search, { interval = D(-20) .. "T10:00:00Z/" .. D(-20) .. "T10:00:00Z" }),
        400, "invalid.date", "interval")
      -- the new generation's start and end are inclusive: one day
      assert.are.equal(200, post(P.agg, { interval = D(-20) .. "/" .. D(-20) }).status)
      assert.are.equal(200, post(P.agg, { interval = D(-30) .. "T08:00:00+02:00/" .. D(-28) .. "T00:00:00.5Z" }).status)
    end)

    it("limits aggregates jobs: start at most one year ago, end at most 90 days after the start (constraint.validation)", function()
      local cagg = client_agg_path(catalog.clients[1].id)
      -- by the real clock: a year and a bit ago is refused, a bit less than a year is fine
      for _, path in ipairs({ P.agg, cagg }) do
        assert_error(post(path, { interval = D(-367) .. "/" .. D(-360) }), 400, "constraint.validation", "interval")
        assert.are.equal(200, post(path, { interval = D(-364) .. "/" .. D(-360) }).status)
      end
      -- the old generation has neither limit
      assert.are.equal(200, post(P.query, { interval = "2020-01-01/2020-06-01" }).status)
      assert.are.equal(200, post(P.search, { interval = D(-400) .. "/" .. D(-200) }).status)
      -- the exact rule: the same calendar date one year back, 00:00 UTC (config today pins the clock)
      fake:config { today = "2026-03-01" }
      assert.are.equal(200, post(P.agg, { interval = "2025-03-01T00:00:00Z/2025-03-02T00:00:00Z" }).status)
      assert_error(post(P.agg, { interval = "2025-02-28T23:59:59Z/2025-03-02" }), 400, "constraint.validation", "interval")
      fake:config { today = "2028-02-29" }
      assert.are.equal(200, post(cagg, { interval = "2027-02-28/2027-03-01" }).status)
      assert_error(post(cagg, { interval = "2027-02-27/2027-03-01" }), 400, "constraint.validation", "interval")
      -- 90 days between the start and end instants (a date alone is its 00:00): 91 days are counted then
      fake:config { today = "2026-03-01" }
      assert.are.equal(200, post(P.agg, { interval = "2025-12-01T00:00:00Z/2026-03-01T00:00:00Z" }).status)
      assert.are.equal(200, post(cagg, { interval = "2025-12-01/2026-03-01" }).status)
      assert_error(post(P.agg, { interval = "2025-12-01T00:00:00Z/2026-03-01T00:00:01Z" }),
        400, "constraint.validation", "interval")
      assert_error(post(cagg, { interval = "2025-12-01/2026-03-02" }), 400, "constraint.validation", "interval")
      assert_error(post(P.agg, { interval = "2025-12-01/2026-06-01" }), 400, "constraint.validation", "interval")
      -- ... by the real clock too
      fake:config { today = false }
      assert.are.equal(200, post(P.agg, { interval = D(-100) .. "T00:00:00Z/" .. D(-10) .. "T00:00:00Z" }).status)
      assert_error(post(P.agg, { interval = D(-100) .. "/" .. D(-9) }), 400, "constraint.validation", "interval")
      assert.has_error(function() fake:config { today = "2026-02-30" } end)
      assert.has_error(function() fake:config { today = "2026-02-03T00:00:00Z" } end)
    end)

    it("answers 400 invalid.value for unknown enum values", function()
      assert_error(post(P.query, { interval = iv, granularity = "Hour" }), 400, "invalid.value", "granularity")
      assert_error(post(P.query, { interval = iv, metrics = { "Status200", "Status201" } }), 400, "invalid.value", "metrics")
      assert_error(post(P.query, { interval = iv, groupBy = { "OauthClientId" } }), 400, "invalid.value", "groupBy")
      assert_error(post(client_path(catalog.clients[1].id), { interval = iv, groupBy = { "UserId" } }),
        400, "invalid.value", "groupBy")
      assert_error(post(P.agg, { interval = iv, groupBy = { "OAuthClientId" } }), 400, "invalid.value", "groupBy")
      assert_error(post(P.agg, { interval = iv, httpMethods = { "TRACE" } }), 400, "invalid.value", "httpMethods")
      assert_error(post(P.search, { interval = iv, httpMethods = { "get" } }), 400, "invalid.value", "httpMethods")
      assert_error(post(P.search, { interval = iv, metrics = { "Requests" } }), 400, "invalid.value", "metrics")
      assert_error(post(P.agg, { interval = iv, sortBy = { { fieldName = "Requests", order = "Up" } } }),
        400, "invalid.value", "sortBy.order")
      assert_error(post(P.agg, { interval = iv, sortBy = { { fieldName = "Colour", order = "Asc" } } }),
        400, "invalid.value", "sortBy.fieldName")
      assert_error(post(P.agg, { interval = iv, metrics = "Requests" }), 400, "bad.request", "metrics")
    end)

    it("answers 400 invalid.query.param.value for pageSize outside 1..1000, bad cursors and bad days", function()
      local r = post(P.agg, { interval = iv })
      for _, bad in ipairs({ "0", "1001", "-5", "abc", "2.5" }) do
        assert_error(get(r.json.selfUri .. "?pageSize=" .. bad), 400, "invalid.query.param.value", "pageSize")
      end
      assert_error(get(r.json.selfUri .. "?after=bogus"), 400, "invalid.query.param.value", "after")
      assert_error(get(r.json.selfUri .. "?page=bogus"), 400, "invalid.query.param.value", "page")
      local s = post(P.search, { interval = iv })
      assert_error(get(s.json.resultsUri .. "?pageSize=1001"), 400, "invalid.query.param.value", "pageSize")
      assert_error(get(s.json.resultsUri .. "?after=bogus"), 400, "invalid.query.param.value", "after")
      assert.are.equal(200, get(s.json.resultsUri .. "?pageSize=1000").status)
      for _, bad in ipairs({ "abc", "0", "367", "1.5" }) do
        assert_error(get("/api/v2/oauth/clients/" .. catalog.clients[1].id .. "/usage/summary?days=" .. bad),
          400, "invalid.query.param.value", "days")
      end
      -- a cursor of another job is refused too
      fake:config { result_rows = 30, lifecycle = { polls = 0 } }
      local a, b = post(P.agg, { interval = iv }), post(P.agg, { interval = iv })
      local nu = get(a.json.selfUri .. "?pageSize=10").json.nextUri
      assert_error(get(b.json.selfUri .. "?" .. nu:match("%?(.*)$")), 400, "invalid.query.param.value", "after")
    end)

    it("answers 400 invalid.property naming an unknown body field, for every body model", function()
      local cid = catalog.clients[1].id
      local cases = {
        { P.query, { interval = iv, foo = 1 }, "foo" },
        { P.query, { interval = iv, Interval = iv }, "Interval" },
        { P.query, { interval = iv, oauthClientIds = { cid } }, "oauthClientIds" },
        { client_path(cid), { interval = iv, sortBy = {} }, "sortBy" },
        { P.search, { interval = iv, granularity = "Day" }, "granularity" },
        { P.search, { interval = iv, groupBy = { "ClientName" } }, "groupBy" },
        { P.agg, { interval = iv, organizationIds = { catalog.organizations[1].id } }, "organizationIds" },
        { P.agg, { interval = iv, extra = cjson.null }, "extra" },
        { client_agg_path(cid), { interval = iv, userIds = {} }, "userIds" },
        { client_agg_path(cid), { interval = iv, oauthClientIds = {} }, "oauthClientIds" },
        { P.agg, { interval = iv, sortBy = { { fieldName = "date", direction = "Asc" } } }, "sortBy.direction" },
      }
      for _, c in ipairs(cases) do
        local r = post(c[1], c[2])
        assert_error(r, 400, "invalid.property", c[3])
        assert.are.equal("invalid.property", r.json.details[1].errorCode)
        assert.is_truthy(r.json.message:find(c[3], 1, true), r.json.message)
      end
      -- unknown fields are reported before anything else is checked
      assert_error(post(P.agg, { bogus = true }), 400, "invalid.property", "bogus")
      -- every documented field is accepted, and sortBy's fieldName and order are both optional
      local all = {
        { P.query, { interval = iv, granularity = "Week", metrics = { "Requests" }, groupBy = { "UserId" } } },
        { client_path(cid), { interval = iv, granularity = "Day", metrics = { "Requests" }, groupBy = { "OrganizationId" } } },
        { P.search, { interval = iv, metrics = { "Date" }, oauthClientNames = { "x" }, httpMethods = { "GET" },
          templateUris = { "x" } } },
        { P.agg, { interval = iv, granularity = "Day", sortBy = { { order = "Desc" }, { fieldName = "date" } },
          metrics = { "Requests" }, templateUris = { "x" }, httpMethods = { "GET" }, platforms = { "WebApp" },
          groupBy = { "Platform" }, userIds = { "x" }, oauthClientIds = { "x" } } },
        { client_agg_path(cid), { interval = iv, granularity = "Day", sortBy = { { fieldName = "date", order = "Asc" } },
          metrics = { "Requests" }, templateUris = { "x" }, httpMethods = { "GET" }, platforms = { "WebApp" },
          groupBy = { "Platform" }, organizationIds = { "x" } } },
      }
      for _, c in ipairs(all) do
        local r = post(c[1], c[2])
        assert.are.equal(200, r.status, r.body)
      end
    end)

    it("answers 404 not.found for unknown executions, jobs, clients and routes; 405 for wrong methods", function()
      local cid = catalog.clients[1].id
      local bogus = "00000000-0000-0000-0000-000000000000"
      assert_error(get("/api/v2/usage/query/" .. bogus .. "/results"), 404, "not.found")
      assert_error(get("/api/v2/usage/simplesearch/" .. bogus .. "/results"), 404, "not.found")
      assert_error(get("/api/v2/usage/aggregates/query/jobs/" .. bogus), 404, "not.found")
      assert_error(get("/api/v2/usage/client/" .. cid .. "/aggregates/query/jobs/" .. bogus), 404, "not.found")
      assert_error(get("/api/v2/oauth/clients/" .. cid .. "/usage/query/results/" .. bogus), 404, "not.found")
      assert_error(post(client_path(bogus), { interval = iv }), 404, "not.found")
      assert_error(post(client_agg_path(bogus), { interval = iv }), 404, "not.found")
      assert_error(get("/api/v2/oauth/clients/" .. bogus .. "/usage/summary"), 404, "not.found")
      assert_error(get("/api/v2/usage/nothing"), 404, "not.found")
      assert_error(get("/nowhere", { token = false }), 404, "not.found")
      local r = call("DELETE", P.query)
      assert_error(r, 405, "method.not.allowed")
      assert.are.equal("POST", r.headers.allow)
      -- an execution of one kind is not readable through another kind's endpoint
      local q = post(P.query, { interval = iv })
      assert_error(get("/api/v2/usage/simplesearch/" .. q.json.executionId .. "/results"), 404, "not.found")
      assert_error(get("/api/v2/usage/aggregates/query/jobs/" .. q.json.executionId), 404, "not.found")
      local cq = post(client_path(cid), { interval = iv })
      assert_error(get("/api/v2/oauth/clients/" .. catalog.clients[2].id .. "/usage/query/results/" ..
        cq.json.executionId), 404, "not.found")
    end)

    it("decodes percent-encoded path parameters", function()
      local cid = catalog.clients[3].id
      local r = post("/api/v2/oauth/clients/" .. cid:gsub("%-", "%%2D") .. "/usage/query", { interval = iv })
      assert.are.equal(200, r.status, r.body)
    end)
  end)

  describe("headers", function()
    it("puts a fresh ININ-Correlation-Id on every response and rate-limit headers on API responses", function()
      local seen = {}
      local rs = {
        post(P.agg, { interval = IV }),
        get("/api/v2/usage/query/x/results", { token = false }),
        login("demo-client", "demo-secret"),
        login("demo-client", "bad"),
        get("/nowhere"),
      }
      for _, r in ipairs(rs) do
        local id = r.headers["inin-correlation-id"]
        assert.is_string(id)
        assert.is_truthy(id:match("^%x+%-%x+%-%x+%-%x+%-%x+$"), id)
        assert.is_nil(seen[id])
        seen[id] = true
        assert.are.equal("application/json", r.headers["content-type"])
      end
      local r = rs[1]
      assert.are.equal("1", r.headers["inin-ratelimit-count"])
      assert.are.equal("300", r.headers["inin-ratelimit-allowed"])
      assert.is_truthy(tonumber(r.headers["inin-ratelimit-reset"]) <= 60)
      local r2 = get(r.json.selfUri)
      assert.are.equal("2", r2.headers["inin-ratelimit-count"])
    end)

    it("gzips JSON when the client accepts it", function()
      fake:config { lifecycle = { polls = 0 } }
      local q = post(P.query, { interval = "2025-03-01/2025-03-07", groupBy = { "OAuthClientId" } })
      local z = get(q.json.resultsUri, { headers = { ["accept-encoding"] = "gzip" } })
      assert.are.equal("gzip", z.headers["content-encoding"])
      local plain = get(q.json.resultsUri, { headers = { ["accept-encoding"] = "identity" } })
      assert.is_nil(plain.headers["content-encoding"])
      assert.are.equal(tonumber(plain.headers["content-length"]), #plain.body)
    end)
  end)

  describe("old generation lifecycle", function()
    local body = { interval = IV }

    it("postUsageQuery: Running (no results) then Complete with results by default", function()
      local r = post(P.query, body)
      assert.are.equal(200, r.status)
      assert.is_string(r.json.executionId)
      assert.are.equal("/api/v2/usage/query/" .. r.json.executionId .. "/results", r.json.resultsUri)
      local a = get(r.json.resultsUri)
      assert.are.equal('{"queryStatus":"Running"}', a.body)
      local b = get(r.json.resultsUri)
      assert.are.equal("Complete", b.json.queryStatus)
      assert.are.equal(2, #b.json.results) -- one row a day, no groupBy; the date-only end day is excluded
      -- stays Complete
      assert.are.equal(b.body, get(r.json.resultsUri).body)
    end)

    it("follows {polls = N}", function()
      fake:config { lifecycle = { polls = 3 } }
      local r = post(P.search, body)
      local _, seen = poll(r.json.resultsUri)
      assert.are.same({ "Running", "Running", "Running", "Complete" }, seen)
      fake:config { lifecycle = { polls = 0 } }
      _, seen = poll(post(P.query, body).json.resultsUri)
      assert.are.same({ "Complete" }, seen)
    end)

    it("follows {seconds = S}", function()
      fake:config { lifecycle = { seconds = 0.4 } }
      local r = post(P.query, body)
      fake:config { lifecycle = { polls = 0 } } -- fixed at submit time
      assert.are.equal("Running", get(r.json.resultsUri).json.queryStatus)
      assert.are.equal("Running", get(r.json.resultsUri).json.queryStatus)
      os.execute("sleep 0.5")
      assert.are.equal("Complete", get(r.json.resultsUri).json.queryStatus)
    end)

    it("ends Failed on job_failed and job_cancelled, without errorBody (ApiUsageQueryResult has none)", function()
      local cid = catalog.clients[1].id
      fake:fault { fault = "job_failed", error_code = "usage.failed", error_message = "boom" }
      fake:fault { fault = "job_failed", error_body = false }
      fake:fault { fault = "job_cancelled", match = { path = "/oauth/clients/" } }
      local r1, r2, r3 = post(P.query, body), post(P.search, body), post(client_path(cid), body)
      local r4 = post(P.query, body)
      for _, r in ipairs({ r1, r2, r3 }) do
        local f = poll(r.json.resultsUri)
        assert.are.equal('{"queryStatus":"Failed"}', f.body)
      end
      assert.are.equal("Complete", poll(r4.json.resultsUri).json.queryStatus)
    end)

    it("leaves queryStatus out of complete results with omit_query_status (it is optional there)", function()
      fake:config { omit_query_status = true, lifecycle = { polls = 1 }, result_rows = 5 }
      local q, s = post(P.query, body), post(P.search, body)
      fake:config { result_rows = false }
      local cq = post(client_path(catalog.clients[1].id), body)
      for _, r in ipairs({ q, s, cq }) do
        assert.are.equal('{"queryStatus":"Running"}', get(r.json.resultsUri).body) -- still there while running
        local f = get(r.json.resultsUri .. (r == s and "?pageSize=2" or ""))
        assert.are.equal(200, f.status)
        assert.is_nil(f.json.queryStatus)
        assert.is_falsy(f.body:find("queryStatus", 1, true))
        assert.is_table(f.json.results)
        assert.is_true(#f.json.results > 0)
      end
      local page = get(s.json.resultsUri .. "?pageSize=2")
      assert.are.equal('{"results":[', page.body:sub(1, 12))
      assert.is_string(page.json.cursors.after)
      -- the new generation keeps its (required) queryStatus
      local j = post(P.agg, { interval = JOB })
      get(j.json.selfUri)
      assert.are.equal("Succeeded", get(j.json.selfUri).json.queryStatus)
      fake:config { omit_query_status = false }
      assert.are.equal("Complete", get(q.json.resultsUri).json.queryStatus)
    end)

    it("postOauthClientUsageQuery and getOauthClientUsageSummary read through getOauthClientUsageQueryResult", function()
      local c = catalog.clients[1]
      local r = post(client_path(c.id), { interval = "2025-03-03/2025-03-09", groupBy = { "TemplateUri" } })
      assert.are.equal(200, r.status)
      assert.are.equal("/api/v2/oauth/clients/" .. c.id .. "/usage/query/results/" .. r.json.executionId, r.json.resultsUri)
      local f = poll(r.json.resultsUri)
      assert.are.equal("Complete", f.json.queryStatus)
      assert.is_true(#f.json.results > 0)
      for _, row in ipairs(f.json.results) do assert.is_string(row.templateUri) end

      local s = get("/api/v2/oauth/clients/" .. c.id .. "/usage/summary")
      assert.are.equal(200, s.status)
      assert.are.equal("/api/v2/oauth/clients/" .. c.id .. "/usage/query/results/" .. s.json.executionId, s.json.resultsUri)
      local sf = poll(s.json.resultsUri)
      assert.are.equal("Complete", sf.json.queryStatus)
      assert.is_true(#sf.json.results <= 7)
      for _, row in ipairs(sf.json.results) do
        assert.are.equal(c.id, row.clientId)
        assert.are.equal(c.name, row.clientName)
      end
      -- today has no usage yet (the service lags): 3 days are the 2 before today for a client active every day
      local before = D(-2) .. "," .. D(-1)
      local s3 = poll(get("/api/v2/oauth/clients/" .. catalog.clients[2].id .. "/usage/summary?days=3").json.resultsUri)
      local after = D(-2) .. "," .. D(-1)
      local got = {}
      for i, row in ipairs(s3.json.results) do got[i] = row.date:sub(1, 10) end
      got = table.concat(got, ",")
      assert.is_true(got == before or got == after, got)
    end)

    it("spells statuses as configured (status_case) and answers unknown statuses on demand", function()
      fake:config { status_case = "upper", lifecycle = { polls = 1 } }
      local r = post(P.query, body)
      assert.are.equal("RUNNING", get(r.json.resultsUri).json.queryStatus)
      assert.are.equal("COMPLETE", get(r.json.resultsUri).json.queryStatus)
      fake:config { status_case = "lower" }
      assert.are.equal("complete", get(r.json.resultsUri).json.queryStatus)
      fake:config { status_case = false }
      fake:fault { fault = "unknown_status", status = "Pending", count = 2 }
      local q = post(P.query, body)
      assert.are.equal("Pending", get(q.json.resultsUri).json.queryStatus)
      assert.are.equal("Pending", get(q.json.resultsUri).json.queryStatus)
      assert.are.equal("Running", get(q.json.resultsUri).json.queryStatus) -- the lifecycle did not advance
      assert.are.equal("Complete", get(q.json.resultsUri).json.queryStatus)
    end)
  end)

  describe("new generation lifecycle", function()
    local body = { interval = JOB }

    it("postUsageAggregatesQueryJobs: Queued, Running, Succeeded by polls", function()
      fake:config { lifecycle = { polls = 3 } }
      local r = post(P.agg, body)
      assert.are.equal(200, r.status)
      assert.is_string(r.json.id)
      assert.are.equal("/api/v2/usage/aggregates/query/jobs/" .. r.json.id, r.json.selfUri)
      local a = get(r.json.selfUri)
      assert.are.equal("Queued", a.json.queryStatus)
      assert.is_nil(a.json.entities)
      assert.is_falsy(a.body:find("entities", 1, true))
      local _, seen = poll(r.json.selfUri)
      assert.are.same({ "Running", "Running", "Succeeded" }, seen)
      local f = get(r.json.selfUri)
      assert.are.equal(2, #f.json.entities)
      assert.is_nil(f.json.nextUri)
      assert.are.equal(r.json.selfUri, f.json.selfUri)
    end)

    it("follows {seconds = S}", function()
      fake:config { lifecycle = { seconds = 0.4 } }
      local r = post(P.agg, body)
      assert.are.equal("Queued", get(r.json.selfUri).json.queryStatus)
      assert.are.equal("Running", get(r.json.selfUri).json.queryStatus)
      os.execute("sleep 0.5")
      assert.are.equal("Succeeded", get(r.json.selfUri).json.queryStatus)
    end)

    it("ends Failed (with or without errorBody) and Cancelled on demand", function()
      fake:config { lifecycle = { polls = 0 } }
      fake:fault { fault = "job_failed", error_message = "boom", error_code = "usage.failed" }
      fake:fault { fault = "job_failed", error_body = false }
      fake:fault { fault = "job_cancelled", match = { path = "/aggregates/" } }
      local f1 = get(post(P.agg, body).json.selfUri)
      assert.are.equal("Failed", f1.json.queryStatus)
      assert.are.equal("boom", f1.json.errorBody.message)
      assert.are.equal("usage.failed", f1.json.errorBody.code)
      assert.is_nil(f1.json.entities)
      local f2 = get(post(P.agg, body).json.selfUri)
      assert.are.equal("Failed", f2.json.queryStatus)
      assert.is_nil(f2.json.errorBody)
      local cid = catalog.clients[2].id
      local f3 = get(post(client_agg_path(cid), body).json.selfUri)
      assert.are.equal("Cancelled", f3.json.queryStatus)
      assert.are.equal("Succeeded", get(post(P.agg, body).json.selfUri).json.queryStatus)
    end)

    it("postUsageClientClientIdAggregatesQueryJobs: the job belongs to its client", function()
      local c = catalog.clients[2]
      local r = post(client_agg_path(c.id), body)
      assert.are.equal("/api/v2/usage/client/" .. c.id .. "/aggregates/query/jobs/" .. r.json.id, r.json.selfUri)
      local f = poll(r.json.selfUri)
      assert.are.equal("Succeeded", f.json.queryStatus)
      for _, e in ipairs(f.json.entities) do
        assert.is_string(e.date)
        assert.is_nil(e.oauthClient)
      end
      assert_error(get("/api/v2/usage/client/" .. catalog.clients[3].id .. "/aggregates/query/jobs/" .. r.json.id),
        404, "not.found")
    end)
  end)

  describe("paging", function()
    local iv = D(-30) .. "/" .. D(-24)

    it("aggregates: pageSize defaults to 100, nextUri carries after= and pageSize=", function()
      fake:config { result_rows = 250, lifecycle = { polls = 0 } }
      local rows, pages = run_new(P.agg, { interval = iv })
      assert.are.equal(250, #rows)
      assert.are.equal(3, #pages)
      assert.are.equal(100, #pages[1].json.entities)
      assert.are.equal(50, #pages[3].json.entities)
      local nu = pages[1].json.nextUri
      assert.is_truthy(nu:match("^/api/v2/usage/aggregates/query/jobs/[%x%-]+%?after=[%w_%-]+&pageSize=100$"), nu)
      assert.is_nil(pages[3].json.nextUri)
      local seen = {}
      for _, e in ipairs(rows) do
        local key = k(e.date, e.oauthClient.id, e.templateUri, e.httpMethod, e.platform)
        assert.is_nil(seen[key])
        seen[key] = true
      end
      -- pages are stable
      assert.are.equal(pages[2].body, get(nu).body)
    end)

    it("aggregates: pageSize up to 1000, a configurable default, client jobs too", function()
      fake:config { result_rows = 2500, lifecycle = { polls = 0 } }
      local rows, pages = run_new(P.agg, { interval = iv }, 1000)
      assert.are.equal(2500, #rows)
      assert.are.equal(3, #pages)
      assert.is_truthy(pages[1].json.nextUri:find("pageSize=1000", 1, true))
      fake:config { page_size_default = 7, result_rows = 20 }
      rows, pages = run_new(client_agg_path(catalog.clients[5].id), { interval = iv })
      assert.are.equal(20, #rows)
      assert.are.equal(3, #pages)
      assert.is_string(rows[1].organizationId)
    end)

    it("aggregates: a natural 90-day Day query grouped by client, template and method pages through many rows", function()
      fake:config { lifecycle = { polls = 0 } }
      local rows, pages = run_new(P.agg, {
        interval = D(-100) .. "T00:00:00Z/" .. D(-10) .. "T00:00:00Z", granularity = "Day", -- 90 days later
        groupBy = { "OauthClientId", "TemplateUri", "HttpMethod" },
      }, 1000)
      -- one row per (day, client, template, method) of the raw records
      local keys = {}
      for _, rec in ipairs(fake:data(D(-100), D(-10))) do
        keys[k(rec.date, rec.clientId, rec.templateUri, rec.httpMethod)] = true
      end
      assert.are.equal(nkeys(keys), #rows)
      assert.is_true(#rows > 5000, #rows)
      assert.are.equal(math.ceil(#rows / 1000), #pages)
      assert.are.equal(D(-100), rows[1].date)
      assert.are.equal(D(-10), rows[#rows].date) -- the end is inclusive: 91 days
    end)

    it("simple search: cursors.after while more pages remain, default pageSize 100", function()
      fake:config { result_rows = 450, lifecycle = { polls = 0 } }
      local rows, pages = search_all({ interval = iv })
      assert.are.equal(450, #rows)
      assert.are.equal(5, pages)
      local r = post(P.search, { interval = iv })
      local last = get(r.json.resultsUri .. "?pageSize=450")
      assert.are.equal(450, #last.json.results)
      assert.is_nil(last.json.cursors)
    end)

    it("simple search: at most 20,000 rows in all", function()
      fake:config { result_rows = 25000, lifecycle = { polls = 0 } }
      -- three columns: 20,000 rows stay under the 5 MB of results data (see "documented errors")
      local few = { "Date", "ClientName", "Status200" }
      local rows, pages = search_all({ interval = iv, metrics = few }, 1000)
      assert.are.equal(20000, #rows)
      assert.are.equal(20, pages)
      -- a page size that does not divide 20,000 ends exactly at the cap too
      local r = post(P.search, { interval = iv, metrics = few })
      local page, n = get(r.json.resultsUri .. "?pageSize=999"), 0
      while true do
        n = n + #page.json.results
        if is_null(page.json.cursors) then break end
        page = get(r.json.resultsUri .. "?pageSize=999&after=" .. page.json.cursors.after)
      end
      assert.are.equal(20000, n)
    end)

    it("result_rows applies to queries submitted afterwards only, and big old-generation results come whole", function()
      fake:config { lifecycle = { polls = 0 } }
      local before = post(P.query, { interval = "2025-03-03/2025-03-04" })
      fake:config { result_rows = 3000 }
      local big = run_old(P.query, { interval = "2025-03-03/2025-03-04" })
      assert.are.equal(3000, #big.json.results)
      assert.are.equal(1, #get(before.json.resultsUri).json.results)
      fake:config { result_rows = false }
      assert.are.equal(1, #run_old(P.query, { interval = "2025-03-03/2025-03-04" }).json.results)
    end)
  end)

  describe("data set and sums", function()
    -- the same 14 recent days for both generations: [start, end) for the old one, inclusive for jobs
    local iv_start, iv_end = D(-30), D(-17)
    local interval = iv_start .. "T00:00:00.000Z/" .. D(-16) .. "T00:00:00.000Z"
    local jobs_interval = iv_start .. "/" .. iv_end
    local org_recs, all_recs

    before_each(function()
      fake:config { lifecycle = { polls = 0 } }
      if not org_recs then
        org_recs = fake:data(iv_start, iv_end)
        all_recs = fake:data(iv_start, iv_end, { scope = "all" })
      end
    end)

    it("has the documented catalog: a 1,000-seat CX 3 home organization, 25 clients, their endpoints", function()
      local home = catalog.home_organization
      assert.are.equal("Acme Contact Center", home.name)
      assert.are.equal(1000, home.seats)
      assert.are.equal("CX 3", home.licence)
      assert.are.equal(140000, home.allowancePerSeat)
      assert.are.equal(140000000, home.monthlyAllowance)
      assert.are.equal(25, #catalog.clients)
      assert.are.equal(10, #catalog.users)
      assert.are.same({ "GET", "POST", "PUT", "PATCH", "DELETE" }, catalog.methods)
      assert.are.equal(4, #catalog.organizations)
      local names, templates = {}, {}
      for _, t in ipairs(catalog.templates) do templates[t] = true end
      for _, c in ipairs(catalog.clients) do
        assert.is_truthy(c.id:match("^%x+%-%x+%-%x+%-%x+%-%x+$"))
        assert.is_string(c.purpose)
        assert.is_string(c.how)
        assert.is_true(#c.endpoints >= 2, c.name)
        for _, e in ipairs(c.endpoints) do
          assert.is_true(templates[e:match("^%u+ /(.*)$")], e)
        end
        names[c.name] = c
      end
      assert.is_table(names["Équipe Reporting"])
      assert.is_table(names["データ同期 bot"])
      assert.are.equal(names["Callback Scheduler"].id, catalog.runaway.clientId)
    end)

    it("keeps counts consistent: 200+300+400+500 = requests, 429 <= 400", function()
      assert.is_true(#all_recs > #org_recs)
      for _, r in ipairs(all_recs) do
        assert.are.equal(r.requests, r.status200 + r.status300 + r.status400 + r.status500)
        assert.is_true(r.status429 <= r.status400)
      end
      -- not every stream is active every day
      local per_day = {}
      for _, r in ipairs(org_recs) do per_day[r.date] = (per_day[r.date] or 0) + 1 end
      assert.are.equal(14, nkeys(per_day))
    end)

    it("is deterministic", function()
      local a = call("GET", "/__fake/data?start=2025-03-05&end=2025-03-05&scope=all", { token = false }).body
      fake:reset()
      local b = call("GET", "/__fake/data?start=2025-03-05&end=2025-03-05&scope=all", { token = false }).body
      assert.are.equal(a, b)
      local q1 = run_old(P.query, { interval = interval, groupBy = { "OAuthClientId" } }).body
      local q2 = run_old(P.query, { interval = interval, groupBy = { "OAuthClientId" } }).body
      assert.are.equal(q1, q2)
    end)

    it("postUsageQuery sums by day and client (home organization only)", function()
      local f = run_old(P.query, { interval = interval, granularity = "Day", groupBy = { "OAuthClientId" } })
      local exp = expect_sums(org_recs, function(r) return k(r.date, r.clientId) end)
      compare_sums(exp, f.json.results, function(row)
        assert.is_truthy(row.date:match("^%d%d%d%d%-%d%d%-%d%dT00:00:00%.000Z$"), row.date)
        return k(row.date:sub(1, 10), row.clientId)
      end)
      local names = {}
      for _, c in ipairs(catalog.clients) do names[c.id] = c.name end
      for _, row in ipairs(f.json.results) do assert.are.equal(names[row.clientId], row.clientName) end
    end)

    it("postUsageQuery buckets by Week and Month", function()
      local f = run_old(P.query, { interval = interval, granularity = "Week", groupBy = { "HttpMethod", "UserId" } })
      compare_sums(expect_sums(org_recs, function(r) return k(week_start(r.date), r.httpMethod, r.userId) end),
        f.json.results, function(row) return k(row.date:sub(1, 10), row.httpMethod, row.userId) end)
      -- a month boundary
      local recs = fake:data("2025-01-27", "2025-02-02") -- the end day of an old-generation interval is excluded
      f = run_old(P.query, { interval = "2025-01-27/2025-02-03", granularity = "Month", groupBy = { "TemplateUri" } })
      compare_sums(expect_sums(recs, function(r) return k(month_start(r.date), r.templateUri) end),
        f.json.results, function(row) return k(row.date:sub(1, 10), row.templateUri) end)
      local months = {}
      for _, row in ipairs(f.json.results) do months[row.date] = true end
      assert.are.same({ ["2025-01-01T00:00:00.000Z"] = true, ["2025-02-01T00:00:00.000Z"] = true }, months)
    end)

    it("postUsageQuery selects metrics", function()
      local f = run_old(P.query, { interval = interval, metrics = { "Status429", "Requests" } })
      for _, row in ipairs(f.json.results) do
        assert.is_number(row.status429)
        assert.is_number(row.requests)
        assert.is_nil(row.status200)
        assert.is_nil(row.clientId)
      end
      compare_sums(expect_sums(org_recs, function(r) return r.date end), f.json.results,
        function(row) return row.date:sub(1, 10) end)
    end)

    it("postOauthClientUsageQuery covers every organization of the client", function()
      local pp
      for _, c in ipairs(catalog.clients) do if #c.organizations >= 3 then pp = c end end
      local f = run_old(client_path(pp.id), { interval = interval, groupBy = { "OrganizationId", "HttpMethod" } })
      local exp = expect_sums(all_recs, function(r)
        return r.clientId == pp.id and k(r.date, r.organizationId, r.httpMethod) or nil
      end)
      compare_sums(exp, f.json.results, function(row) return k(row.date:sub(1, 10), row.organizationId, row.httpMethod) end)
      local orgs = {}
      for _, row in ipairs(f.json.results) do orgs[row.organizationId] = true end
      assert.is_true(nkeys(orgs) >= 2)
    end)

    it("aggregates sum with groupBy and every filter", function()
      local users, tpl = {}, {}
      for _, r in ipairs(org_recs) do
        if r.userId then users[#users + 1] = r.userId end
        tpl[#tpl + 1] = r.templateUri
      end
      local pick_users = { users[1], users[#users] }
      local cids = { catalog.clients[3].id, catalog.clients[8].id, catalog.clients[13].id, catalog.clients[19].id }
      local body = {
        interval = jobs_interval, granularity = "Day",
        groupBy = { "OauthClientId", "UserId", "TemplateUri", "HttpMethod", "Platform" },
        oauthClientIds = cids, userIds = pick_users, httpMethods = { "GET", "POST", "PUT" },
        platforms = { "WebApp", "PublicAPI" },
      }
      local rows = run_new(P.agg, body, 1000)
      local set = function(list) local s = {} for _, v in ipairs(list) do s[v] = true end return s end
      local cs, us, ms, ps = set(cids), set(pick_users), set(body.httpMethods), set(body.platforms)
      local exp = expect_sums(org_recs, function(r)
        if cs[r.clientId] and us[r.userId or ""] and ms[r.httpMethod] and ps[r.platform] then
          return k(r.date, r.clientId, r.userId, r.templateUri, r.httpMethod, r.platform)
        end
      end)
      assert.is_true(nkeys(exp) > 0)
      compare_sums(exp, rows, function(e)
        assert.are.equal("/api/v2/oauth/clients/" .. e.oauthClient.id, e.oauthClient.selfUri)
        assert.are.equal("/api/v2/users/" .. e.user.id, e.user.selfUri)
        return k(e.date, e.oauthClient.id, e.user.id, e.templateUri, e.httpMethod, e.platform)
      end, { requests = "requestCount" })

      local t1, t2 = tpl[1], tpl[#tpl]
      rows = run_new(P.agg, { interval = jobs_interval, granularity = "Week", groupBy = { "OauthClientName" },
        templateUris = { t1, t2 } }, 1000)
      exp = expect_sums(org_recs, function(r)
        if r.templateUri == t1 or r.templateUri == t2 then return k(week_start(r.date), r.clientName) end
      end)
      compare_sums(exp, rows, function(e) return k(e.date, e.oauthClient.name) end, { requests = "requestCount" })
    end)

    it("client aggregates sum per organization with organizationIds", function()
      local pp
      for _, c in ipairs(catalog.clients) do if #c.organizations >= 3 then pp = c end end
      local orgs = { pp.organizations[1], pp.organizations[3] }
      local rows = run_new(client_agg_path(pp.id), { interval = jobs_interval, granularity = "Month",
        groupBy = { "OrganizationId", "Platform" }, organizationIds = orgs }, 1000)
      local exp = expect_sums(all_recs, function(r)
        if r.clientId == pp.id and (r.organizationId == orgs[1] or r.organizationId == orgs[2]) then
          return k(month_start(r.date), r.organizationId, r.platform)
        end
      end)
      compare_sums(exp, rows, function(e) return k(e.date, e.organizationId, e.platform) end, { requests = "requestCount" })
    end)

    it("simple search filters by client names, methods and templates and groups by the chosen columns", function()
      local names = { "Équipe Reporting", "データ同期 bot", "Wallboard", "Mobile App" }
      local body = { interval = interval, oauthClientNames = names, httpMethods = { "GET", "POST" } }
      local rows = search_all(body, 1000)
      local ns = {}
      for _, n in ipairs(names) do ns[n] = true end
      local exp = expect_sums(org_recs, function(r)
        if ns[r.clientName] and (r.httpMethod == "GET" or r.httpMethod == "POST") then
          return k(r.date, r.clientName, r.httpMethod, r.templateUri)
        end
      end)
      compare_sums(exp, rows, function(row)
        assert.is_nil(row.requests)
        return k(row.date:sub(1, 10), row.clientName, row.httpMethod, row.templateUri)
      end)
      local got = {}
      for _, row in ipairs(rows) do got[row.clientName] = true end
      assert.is_true(got["Équipe Reporting"] and got["データ同期 bot"])

      rows = search_all({ interval = interval, metrics = { "ClientName", "Status200" } }, 1000)
      compare_sums(expect_sums(org_recs, function(r) return r.clientName end), rows, function(row)
        assert.is_nil(row.date)
        assert.is_nil(row.status300)
        return row.clientName
      end)
    end)

    it("sortBy orders the aggregates", function()
      local rows = run_new(P.agg, { interval = jobs_interval, groupBy = { "OauthClientId" },
        sortBy = { { fieldName = "Requests", order = "Desc" } } }, 1000)
      for i = 2, #rows do assert.is_true(rows[i - 1].requestCount >= rows[i].requestCount) end
      rows = run_new(P.agg, { interval = jobs_interval, groupBy = { "TemplateUri" },
        sortBy = { { fieldName = "TemplateUri", order = "Asc" }, { fieldName = "date", order = "Desc" } } }, 1000)
      for i = 2, #rows do
        local a, b = rows[i - 1], rows[i]
        assert.is_true(a.templateUri < b.templateUri or (a.templateUri == b.templateUri and a.date > b.date))
      end
    end)

    it("delivers counts above 2^31 and 2^53 exactly (config count_offset; no exponent, no fraction)", function()
      local bulk = client_named("Bulk Export Service")
      local day = iv_start
      local function raw_text()
        return call("GET", "/__fake/data?start=" .. day .. "&end=" .. day, { token = false }).body
      end
      -- the client's requests that day, summed on the digits of the raw records (a double would round)
      local function client_total(text)
        local total, n = "0", 0
        -- (requests is the last field of a record; templateUris hold braces)
        for id, requests in text:gmatch('"clientId":"([^"]+)".-"requests":(%d+)}') do
          if id == bulk.id then total, n = dec_add(total, requests), n + 1 end
        end
        return total, n
      end
      local plain_total, n = client_total(raw_text())
      assert.is_true(n >= 1)
      assert.is_true(tonumber(plain_total) < 2 ^ 31) -- the data set itself stays at a real organization's scale
      for _, value in ipairs { "2147483648", "4294967296", "9007199254740993", "4611686018427387904" } do
        fake:config { count_offset = { date = day, value = value } }
        local total = client_total(raw_text())
        assert.are.equal(dec_add(plain_total, value), total)
        local f = run_old(P.query, { interval = day .. "/" .. D(-29), groupBy = { "OAuthClientId" } })
        assert.is_truthy(f.body:find('"clientId":"' .. bulk.id:gsub("%-", "%%-") .. '"[^}]*"requests":' .. total .. ","), total .. " in " .. f.body)
        local j = post(P.agg, { interval = day .. "/" .. day, groupBy = { "OauthClientId" },
          oauthClientIds = { bulk.id } })
        local page = poll(j.json.selfUri)
        assert.is_truthy(page.body:find('"requestCount":' .. total .. ",", 1, true), total .. " in " .. page.body)
        for _, body in ipairs { f.body, page.body } do
          assert.is_falsy(body:find("[eE]%+"))
          assert.is_falsy(body:find('"%w+":%d+%.%d'))
        end
      end
      fake:config { count_offset = false }
      assert.are.equal(plain_total, (client_total(raw_text())))
      assert.has_error(function() fake:config { count_offset = { date = day, value = "4611686018427387905" } } end)
      assert.has_error(function() fake:config { count_offset = { date = day, value = 1.5 } } end)
      assert.has_error(function() fake:config { count_offset = { value = "5" } } end)
      assert.has_error(function() fake:config { count_offset = { date = day, value = "5", client_id = "x" } } end)
    end)

    it("emits empty arrays as []", function()
      local f = run_old(P.query, { interval = interval, groupBy = { "OAuthClientId" }, metrics = { "Requests" },
        granularity = "Day" })
      assert.is_true(#f.json.results > 0)
      local none = post(P.agg, { interval = jobs_interval, oauthClientIds = { "11111111-2222-3333-4444-555555555555" } })
      local e = get(none.json.selfUri)
      assert.is_truthy(e.body:find('"entities":[]', 1, true), e.body)
      local s = post(P.search, { interval = interval, oauthClientNames = { "Nobody" } })
      assert.is_truthy(get(s.json.resultsUri).body:find('"results":[]', 1, true))
      local q = post(P.query, { interval = "1990-01-01/1990-01-02" })
      assert.is_truthy(get(q.json.resultsUri).body:find('"results":[]', 1, true))
      local err = post(P.query, {})
      assert.is_truthy(err.body:find('"errors":[]', 1, true))
      assert.is_truthy(get("/nowhere").body:find('"details":[]', 1, true))
      fake:clear_log()
      assert.are.equal("[]", call("GET", "/__fake/log", { token = false }).body)
      assert.are.equal("[]", call("GET", "/__fake/faults", { token = false }).body)
    end)
  end)

  describe("a real organization (the scale of the data set)", function()
    local MONTHLY = 140000000 -- 1,000 CX 3 seats x 140,000 requests

    -- the spec's own reading of spec/fakecloud/endpoints.tsv: "METHOD api/v2/..." -> true
    local function endpoint_table()
      local set, n = {}, 0
      for line in io.lines(fakecloud.dir .. "/endpoints.tsv") do
        local m, p = line:match("^(%u+)\t/(%S+)$")
        if m then set[m .. " " .. p], n = true, n + 1 end
      end
      return set, n
    end

    -- requests per day ([date] = n) and per client and day ([clientName][date] = n) of raw records
    local function daily(recs)
      local days, clients = {}, {}
      for _, r in ipairs(recs) do
        days[r.date] = (days[r.date] or 0) + r.requests
        local c = clients[r.clientName] or {}
        c[r.date] = (c[r.date] or 0) + r.requests
        clients[r.clientName] = c
      end
      return days, clients
    end

    local function weekday(ymd) -- 1 = Monday ... 7 = Sunday, by the spec's own calendar
      local y, m, d = ymd:match("^(%d+)-(%d+)-(%d+)$")
      local wday = os.date("*t", os.time { year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12 }).wday
      return (wday + 5) % 7 + 1
    end

    local year -- raw records of the home organization for the year before today, without the runaway
    before_each(function()
      fake:config { lifecycle = { polls = 0 } }
      if not year then
        fake:config { runaway = false }
        year = fake:data(D(-365), D(-1))
        fake:config { runaway = cjson.null }
      end
    end)

    it("serves only real (method, templateUri) pairs: every one is in endpoints.tsv", function()
      local set, n = endpoint_table()
      assert.are.equal(3178, n)
      assert.are.equal(n, catalog.endpoint_table)
      local served = {}
      -- the raw records of every organization, the runaway included, and what the API answers
      for _, rec in ipairs(fake:data(D(-120), D(-1), { scope = "all" })) do
        served[rec.httpMethod .. " " .. rec.templateUri] = true
      end
      for _, rec in ipairs(year) do served[rec.httpMethod .. " " .. rec.templateUri] = true end
      local f = run_old(P.query, { interval = D(-365) .. "/" .. D(1), granularity = "Month",
        groupBy = { "TemplateUri", "HttpMethod" } })
      assert.is_true(#f.json.results > 0)
      for _, row in ipairs(f.json.results) do served[row.httpMethod .. " " .. row.templateUri] = true end
      fake:config { result_rows = 3000 }
      local synthetic = run_new(P.agg, { interval = JOB }, 1000)
      assert.are.equal(3000, #synthetic)
      for _, e in ipairs(synthetic) do served[e.httpMethod .. " " .. e.templateUri] = true end
      local count = 0
      for pair in pairs(served) do
        assert.is_true(set[pair], pair .. " is not in endpoints.tsv")
        count = count + 1
      end
      -- every endpoint a client is said to use is served (and nothing else)
      local listed = 0
      for _, c in ipairs(catalog.clients) do
        for _, e in ipairs(c.endpoints) do
          local pair = e:gsub(" /", " ", 1)
          assert.is_true(served[pair], e)
          listed = listed + 1
        end
      end
      assert.is_true(count >= 60 and listed >= count - 2, count .. " served, " .. listed .. " listed")
    end)

    it("regenerates endpoints.tsv with gen_endpoints.lua, which refuses a malformed line", function()
      local interp = jit and "luajit" or "lua5.4"
      local script = fakecloud.dir .. "/gen_endpoints.lua"
      local p = io.popen(interp .. " " .. script .. " " .. fakecloud.dir .. "/endpoints.tsv")
      local out = p:read("*a")
      p:close()
      local fh = assert(io.open(fakecloud.dir .. "/endpoints.tsv", "rb"))
      local file = fh:read("*a")
      fh:close()
      assert.are.equal(file, out)
      local tmp = os.tmpname()
      fh = assert(io.open(tmp, "wb"))
      fh:write("GET\t/api/v2/users\nFETCH\t/api/v2/users\n")
      fh:close()
      local rc = os.execute(interp .. " " .. script .. " " .. tmp .. " >/dev/null 2>&1")
      os.remove(tmp)
      assert.is_true(rc ~= true and rc ~= 0)
    end)

    it("spends 3 to 4.7 million requests a weekday, less on weekends, under 140 million a month without the runaway", function()
      local days = daily(year)
      assert.are.equal(365, nkeys(days))
      local wk, we, nwk, nwe = 0, 0, 0, 0
      for date, n in pairs(days) do
        if weekday(date) <= 5 then
          assert.is_true(n > 3000000 and n < MONTHLY / 30, date .. " " .. n)
          wk, nwk = wk + n, nwk + 1
        else
          we, nwe = we + n, nwe + 1
        end
      end
      assert.is_true(we / nwe < 0.75 * wk / nwk)
      -- every 30-day window is under the allowance
      local sorted = {}
      for date, n in pairs(days) do sorted[#sorted + 1] = { date, n } end
      table.sort(sorted, function(a, b) return a[1] < b[1] end)
      local window = 0
      for i, d in ipairs(sorted) do
        window = window + d[2]
        if i > 30 then window = window - sorted[i - 30][2] end
        if i >= 30 then assert.is_true(window < MONTHLY, d[1] .. " " .. window) end
      end
    end)

    it("has clients from a few thousand to hundreds of thousands of requests a day, none beyond its tokens", function()
      local _, clients = daily(year)
      local by_name = {}
      for _, c in ipairs(catalog.clients) do by_name[c.name] = c end
      local smallest, largest = math.huge, 0
      for name, days in pairs(clients) do
        local c = by_name[name]
        local sum, n, max = 0, 0, 0
        for date, v in pairs(days) do
          if weekday(date) <= 5 then sum, n = sum + v, n + 1 end
          if v > max then max = v end
        end
        local mean = sum / n
        smallest, largest = math.min(smallest, mean), math.max(largest, mean)
        -- one client-credentials token: 300 a minute, 432,000 a day; two: 864,000
        local tokens = c.how:match("^(%d) token") or (c.how:match("^1 token") and "1")
        if tokens then assert.is_true(max <= tonumber(tokens) * 432000, name .. " " .. max) end
        assert.is_true(c.weekdayRequests * 0.5 < mean and mean < c.weekdayRequests * 1.5, name .. " " .. mean)
      end
      assert.is_true(smallest >= 1000 and smallest < 10000, smallest)
      assert.is_true(largest > 500000 and largest < 1000000, largest)
      assert.are.equal(#catalog.clients, nkeys(clients))
    end)

    it("has a runaway client that pushes its month over the allowance, from a day the control endpoint moves", function()
      -- by default it starts 7 days before the fake's clock at start (the fake may have started before midnight)
      local start = catalog.runaway.start
      assert.is_true(start == D(-7) or start == D(-8), start)
      assert.are.equal(7500000, catalog.runaway.requests)
      local runaway = catalog.runaway.clientName
      -- a month known in advance: the runaway from 13 March, today 20 March
      fake:config { today = "2026-03-20", runaway = { start = "2026-03-13" } }
      local feb_days = daily(fake:data("2026-02-01", "2026-02-28"))
      local feb = 0
      for _, n in pairs(feb_days) do feb = feb + n end
      assert.is_true(feb < MONTHLY, feb)
      local mar_recs = fake:data("2026-03-01", "2026-03-31")
      local mar_days, mar_clients = daily(mar_recs)
      assert.are.equal(19, nkeys(mar_days)) -- today (the 20th) and later: no usage yet
      local mtd = 0
      for _, n in pairs(mar_days) do mtd = mtd + n end
      assert.is_true(mtd < MONTHLY, mtd)
      assert.is_true(mtd / 19 * 31 > 1.2 * MONTHLY, mtd) -- the month at this pace: well over
      for date, n in pairs(mar_clients[runaway]) do
        if date < "2026-03-13" then
          assert.is_true(n < 50000, date .. " " .. n)
        else
          assert.is_true(n > 2000000, date .. " " .. n)
        end
      end
      local r429, rreq = 0, 0
      for _, r in ipairs(mar_recs) do
        if r.clientName == runaway and r.date >= "2026-03-14" then r429, rreq = r429 + r.status429, rreq + r.requests end
      end
      assert.is_true(r429 / rreq > 0.05 and r429 / rreq < 0.13, r429 / rreq)
      -- a past day stays a pure function of (seed, settings, day): other clients do not move with the runaway
      local function others(recs)
        local out = {}
        for _, r in ipairs(recs) do
          if r.clientName ~= runaway then out[#out + 1] = cjson.encode(r) end
        end
        return table.concat(out, "\n")
      end
      local with = others(mar_recs)
      fake:config { runaway = { start = "2026-03-01" } }
      assert.are.equal(with, others(fake:data("2026-03-01", "2026-03-31")))
      fake:config { runaway = false }
      local without = fake:data("2026-03-01", "2026-03-31")
      assert.are.equal(with, others(without))
      local _, quiet = daily(without)
      for date, n in pairs(quiet[runaway]) do assert.is_true(n < 50000, date .. " " .. n) end
      -- and two reads of one day agree
      fake:config { runaway = { start = "2026-03-13" } }
      assert.are.same(fake:data("2026-03-15", "2026-03-15"), fake:data("2026-03-15", "2026-03-15"))
      assert.has_error(function() fake:config { runaway = { start = "13 March" } } end)
      assert.has_error(function() fake:config { runaway = { requests = 0 } } end)
      fake:config { runaway = cjson.null, today = false }
      assert.are.equal(start, fake:catalog().runaway.start)
    end)

    it("answers 429 in bursts on a few clients and days, 5xx in rare incidents", function()
      local bursty = {}
      for _, c in ipairs(catalog.clients) do bursty[c.name] = c.burst end
      local per = {}   -- [client][date] = { req, s429 }
      local org = {}   -- [date] = { req, s500 }
      for _, r in ipairs(year) do
        local c = per[r.clientName] or {}
        local d = c[r.date] or { 0, 0 }
        d[1], d[2] = d[1] + r.requests, d[2] + r.status429
        c[r.date], per[r.clientName] = d, c
        local o = org[r.date] or { 0, 0 }
        o[1], o[2] = o[1] + r.requests, o[2] + r.status500
        org[r.date] = o
      end
      local with429 = 0
      for name, days in pairs(per) do
        local hit, active = 0, 0
        for _, d in pairs(days) do
          active = active + 1
          if d[2] > 0 then
            hit = hit + 1
            assert.is_true(d[2] / d[1] > 0.015, name) -- a burst, not a trickle
          end
        end
        if bursty[name] then
          assert.is_true(hit > 0 and hit < 0.4 * active, name .. " " .. hit .. "/" .. active)
          with429 = with429 + 1
        else
          assert.are.equal(0, hit, name)
        end
      end
      assert.is_true(with429 >= 2 and with429 <= 5, with429)
      local incidents = 0
      for _, o in pairs(org) do
        if o[2] / o[1] > 0.00002 then incidents = incidents + 1 end
      end
      assert.is_true(incidents >= 1 and incidents <= 30, incidents) -- ~1 a month at most
    end)

    it("has no usage for the current UTC day (nor later), in every operation", function()
      assert.are.same({}, fake:data(D(0), D(3), { scope = "all" }))
      assert.is_true(#fake:data(D(-1), D(-1)) > 0)
      local cid = client_named("Bulk Export Service").id
      assert.are.equal(0, #run_new(P.agg, { interval = D(0) .. "/" .. D(0) }, 1000))
      assert.are.equal(0, #run_new(client_agg_path(cid), { interval = D(0) .. "/" .. D(0) }, 1000))
      assert.are.equal(0, #run_old(P.query, { interval = D(0) .. "/" .. D(1) }).json.results)
      assert.are.equal(0, #run_old(client_path(cid), { interval = D(0) .. "/" .. D(1) }).json.results)
      assert.are.equal(0, #search_all({ interval = D(0) .. "/" .. D(1) }))
      assert.are.equal(1, #run_old(P.query, { interval = D(-1) .. "/" .. D(1) }).json.results)
      -- the fake's today (config today) decides
      fake:config { today = D(-3) }
      assert.are.same({}, fake:data(D(-3), D(-1)))
      assert.is_true(#fake:data(D(-4), D(-4)) > 0)
    end)

    it("reads an old-generation end either way (config old_interval_end); ends at 23:59:59.999 agree", function()
      local cid = client_named("Bulk Export Service").id
      local function dates_of(rows)
        local set, out = {}, {}
        for _, r in ipairs(rows) do set[r.date:sub(1, 10)] = true end
        for d in pairs(set) do out[#out + 1] = d end
        table.sort(out)
        return table.concat(out, ",")
      end
      local function span(a, b)
        local out = {}
        for i = a, b do out[#out + 1] = D(i) end
        return table.concat(out, ",")
      end
      local last_ms = D(-20) .. "T00:00:00.000Z/" .. D(-15) .. "T23:59:59.999Z"
      local date_only = D(-20) .. "/" .. D(-14)
      assert.are.equal("exclusive", fake:config().old_interval_end)
      for _, reading in ipairs { "exclusive", "inclusive" } do
        fake:config { old_interval_end = reading }
        for _, run in ipairs {
          function(iv) return run_old(P.query, { interval = iv }).json.results end,
          function(iv) return run_old(client_path(cid), { interval = iv }).json.results end,
          function(iv) return (search_all({ interval = iv, metrics = { "Date", "Status200" } }, 1000)) end,
        } do
          assert.are.equal(span(-20, -15), dates_of(run(last_ms)), reading)
          assert.are.equal(reading == "exclusive" and span(-20, -15) or span(-20, -14), dates_of(run(date_only)),
            reading)
        end
        -- the new generation is documented: inclusive whatever this setting
        assert.are.equal(span(-20, -14), dates_of(run_new(P.agg, { interval = date_only }, 1000)))
      end
      assert.has_error(function() fake:config { old_interval_end = "both" } end)
    end)
  end)

  describe("documented errors", function()
    before_each(function()
      fake:config { lifecycle = { polls = 0 } }
    end)

    it("simple search results over 5 MB: 500 max.response.size.reached on every results GET, whatever the page", function()
      -- a year of every column: some 35,000 rows of about 250 bytes (the limit is on the whole result,
      -- before the cap of 20,000 rows)
      local big = post(P.search, { interval = D(-365) .. "/" .. D(0) })
      for _, q in ipairs { "", "?pageSize=1", "?pageSize=1000", "?pageSize=1" } do
        local r = get(big.json.resultsUri .. q)
        assert_error(r, 500, "max.response.size.reached")
        assert.is_truthy(r.json.message:find("smaller date interval or include more filters", 1, true), r.json.message)
      end
      -- a smaller interval, or more filters, or fewer columns: fine
      assert.are.equal(200, get(post(P.search, { interval = D(-20) .. "/" .. D(0) }).json.resultsUri).status)
      assert.are.equal(200, get(post(P.search, { interval = D(-365) .. "/" .. D(0),
        oauthClientNames = { "Acme Reporting" } }).json.resultsUri).status)
      local few = get(post(P.search, { interval = D(-365) .. "/" .. D(0), metrics = { "Date", "Status429" } })
        .json.resultsUri .. "?pageSize=1000")
      assert.are.equal(200, few.status, few.body)
      -- the limit is config search_max_bytes (false: none), on all the rows of the result
      fake:config { search_max_bytes = false }
      assert.are.equal(200, get(big.json.resultsUri).status)
      local small = post(P.search, { interval = D(-3) .. "/" .. D(0) })
      local whole = get(small.json.resultsUri .. "?pageSize=1000") -- one page holds all of its rows
      local rows = assert(whole.body:match('^{"queryStatus":"Complete","results":%[(.*)%]}$'), whole.body)
      local size = #rows -- the rows and their commas, as the fake sent them
      fake:config { search_max_bytes = size }
      assert.are.equal(200, get(small.json.resultsUri .. "?pageSize=5").status)
      fake:config { search_max_bytes = size - 1 }
      assert_error(get(small.json.resultsUri .. "?pageSize=5"), 500, "max.response.size.reached")
      assert.has_error(function() fake:config { search_max_bytes = 0 } end)
    end)

    it("injects search_too_big and query_error (500) on simple search result GETs only", function()
      local s = post(P.search, { interval = IV })
      local j = post(P.agg, { interval = JOB })
      local q = post(P.query, { interval = IV })
      fake:fault { fault = "search_too_big" }
      fake:fault { fault = "query_error", count = 2 }
      assert.are.equal(200, get(j.json.selfUri).status)
      assert.are.equal(200, get(q.json.resultsUri).status)
      local e = get(s.json.resultsUri)
      assert_error(e, 500, "query.error")
      assert.are.equal("There was a problem running the query", e.json.message)
      assert_error(get(s.json.resultsUri .. "?pageSize=1"), 500, "query.error")
      local t = get(s.json.resultsUri .. "?pageSize=1")
      assert_error(t, 500, "max.response.size.reached")
      assert.is_truthy(t.json.message:find("5MB limit", 1, true))
      assert.are.equal(200, get(s.json.resultsUri).status)
      assert.are.equal(0, #fake:faults())
      local log = H_faults(fake:log())
      assert.are.same({ "query_error", "query_error", "search_too_big" }, log)
    end)

    it("answers 400 query.too.long to job POSTs with more than max_filter_values filter values (and on demand)", function()
      local cid = client_named("Acme Reporting").id
      local function templates(n)
        local out = {}
        for i = 1, n do out[i] = "api/v2/fake/" .. i end
        return out
      end
      for _, path in ipairs { P.agg, client_agg_path(cid) } do
        assert.are.equal(200, post(path, { interval = JOB, templateUris = templates(100) }).status)
        local r = post(path, { interval = JOB, templateUris = templates(60), httpMethods = { "GET" },
          platforms = templates(40) })
        assert_error(r, 400, "query.too.long")
        assert.is_truthy(r.json.message:find("less filters", 1, true))
      end
      -- the old generation documents no such error
      assert.are.equal(200, post(P.search, { interval = IV, templateUris = templates(500) }).status)
      fake:config { max_filter_values = 2 }
      assert_error(post(P.agg, { interval = JOB, userIds = { "a", "b", "c" } }), 400, "query.too.long")
      assert.are.equal(200, post(P.agg, { interval = JOB, userIds = { "a", "b" } }).status)
      fake:config { max_filter_values = cjson.null }
      fake:fault { fault = "query_too_long", count = 2 }
      assert.are.equal(200, post(P.query, { interval = IV }).status) -- not a job POST
      assert_error(post(P.agg, { interval = JOB }), 400, "query.too.long")
      assert_error(post(client_agg_path(cid), { interval = JOB }), 400, "query.too.long")
      assert.are.equal(200, post(P.agg, { interval = JOB }).status)
      assert.is_nil(next(fake:faults()))
    end)
  end)

  describe("intervals", function()
    local heavy = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd" -- active every day, in every organization it has

    -- the distinct dates (yyyy-MM-dd) of the rows of a result, sorted
    local function dates(rows)
      local set, out = {}, {}
      for _, r in ipairs(rows) do set[r.date:sub(1, 10)] = true end
      for d in pairs(set) do out[#out + 1] = d end
      table.sort(out)
      return out
    end
    local function days(a, b)
      local out = {}
      for i = a, b do out[#out + 1] = D(i) end
      return out
    end

    before_each(function()
      fake:config { lifecycle = { polls = 0 } }
    end)

    it("new generation: start and end are inclusive, every UTC day from the start's through the end's", function()
      local cases = {
        { D(-20) .. "T00:00:00Z/" .. D(-13) .. "T00:00:00Z", -20, -13 },
        { D(-20) .. "/" .. D(-14), -20, -14 },
        { D(-20) .. "/" .. D(-20), -20, -20 },
        { D(-20) .. "T08:00:00Z/" .. D(-20) .. "T09:00:00Z", -20, -20 },
        { D(-21) .. "T23:00:00-02:00/" .. D(-19) .. "T12:00:00.250+05:00", -20, -19 },
      }
      for _, c in ipairs(cases) do
        local want = days(c[2], c[3])
        assert.are.same(want, dates(run_new(P.agg, { interval = c[1] }, 1000)), c[1])
        assert.are.same(want, dates(run_new(client_agg_path(heavy), { interval = c[1] }, 1000)), c[1])
      end
      local recs = fake:data(D(-20), D(-13))
      compare_sums(expect_sums(recs, function(r) return r.date end), run_new(P.agg, { interval = cases[1][1] }, 1000),
        function(e) return e.date end, { requests = "requestCount" })
    end)

    it("old generation: the days overlapping [start, end); a date alone as the end excludes that day", function()
      local cases = {
        { D(-20) .. "T00:00:00Z/" .. D(-13) .. "T00:00:00Z", -20, -14 },
        { D(-20) .. "/" .. D(-14), -20, -15 },
        { D(-20) .. "T08:00:00Z/" .. D(-20) .. "T09:00:00Z", -20, -20 },
        { D(-20) .. "T08:00:00Z/" .. D(-19) .. "T00:00:00.001Z", -20, -19 },
        { D(-21) .. "T23:00:00-02:00/" .. D(-19) .. "T12:00:00+05:00", -20, -19 },
      }
      for _, c in ipairs(cases) do
        local want = days(c[2], c[3])
        assert.are.same(want, dates(run_old(P.query, { interval = c[1] }).json.results), c[1])
        assert.are.same(want, dates(run_old(client_path(heavy), { interval = c[1] }).json.results), c[1])
        assert.are.same(want, dates(search_all({ interval = c[1], metrics = { "Date", "Status200" } }, 1000)), c[1])
      end
      local recs = fake:data(D(-20), D(-14))
      compare_sums(expect_sums(recs, function(r) return r.date end),
        run_old(P.query, { interval = cases[1][1] }).json.results, function(row) return row.date:sub(1, 10) end)
    end)

    it("the summary covers today and the days before it, today without usage; config today pins today", function()
      fake:config { today = "2025-03-05" }
      local s = poll(get("/api/v2/oauth/clients/" .. heavy .. "/usage/summary?days=3").json.resultsUri)
      assert.are.same({ "2025-03-03", "2025-03-04" }, dates(s.json.results))
      fake:config { today = false }
      local before = days(-2, -1)
      s = poll(get("/api/v2/oauth/clients/" .. heavy .. "/usage/summary?days=3").json.resultsUri)
      local after = days(-2, -1)
      local got = dates(s.json.results)
      assert.is_true(table.concat(got, ",") == table.concat(before, ",") or
        table.concat(got, ",") == table.concat(after, ","), table.concat(got, ","))
    end)
  end)

  describe("faults", function()
    local iv = JOB

    it("status 429 with Retry-After and the too.many.requests.retry.after body, count times", function()
      fake:fault { fault = "status", status = 429, retry_after = 3, count = 2 }
      for _ = 1, 2 do
        local r = post(P.agg, { interval = iv })
        assert_error(r, 429, "too.many.requests.retry.after")
        assert.are.equal("3", r.headers["retry-after"])
        assert.is_truthy(r.json.message:find("[3]", 1, true), r.json.message)
      end
      assert.are.equal(200, post(P.agg, { interval = iv }).status)
    end)

    it("status 5xx with the proper codes; 503 with Retry-After", function()
      local codes = { [500] = "internal.server.error", [502] = "bad.gateway", [503] = "service.unavailable",
        [504] = "request.timeout" }
      for st, code in pairs(codes) do
        fake:fault { fault = "status", status = st, retry_after = st == 503 and 2 or nil }
        local r = post(P.query, { interval = iv })
        assert_error(r, st, code)
        if st == 503 then assert.are.equal("2", r.headers["retry-after"]) end
      end
    end)

    it("matches by method and path (plain substring or Lua pattern)", function()
      fake:fault { fault = "status", status = 500, match = { method = "GET", path = "/aggregates/query/jobs/" } }
      fake:fault { fault = "status", status = 502, match = { path = "^/api/v2/usage/simple%a+$" } }
      local r = post(P.agg, { interval = iv })
      assert.are.equal(200, r.status)
      assert.are.equal(200, post(P.query, { interval = iv }).status)
      assert.are.equal(502, post(P.search, { interval = iv }).status)
      assert.are.equal(500, get(r.json.selfUri).status)
      assert.are.equal(200, get(r.json.selfUri).status)
      -- faults without a match do not touch the token endpoint; with a matching path they do
      fake:fault { fault = "status", status = 503 }
      assert.are.equal(200, login("demo-client", "demo-secret").status)
      fake:clear_faults()
      fake:fault { fault = "status", status = 503, match = { path = "/oauth/token" } }
      assert.are.equal(503, login("demo-client", "demo-secret").status)
    end)

    it("slow delays the normal answer", function()
      fake:fault { fault = "slow", delay = 0.3 }
      local t0 = clock()
      local r = post(P.agg, { interval = iv })
      assert.are.equal(200, r.status)
      assert.is_true(clock() - t0 >= 0.28)
      local log = fake:log()
      assert.are.equal("slow", log[#log].fault)
    end)

    it("drop closes the connection without an answer", function()
      -- libcurl silently retries once when a reused connection closes without an answer: drop twice
      fake:fault { fault = "drop", count = 2 }
      local r = post(P.agg, { interval = iv })
      assert.is_nil(r.status)
      assert.is_string(r.code)
      assert.are.equal(200, post(P.agg, { interval = iv }).status)
      local log = fake:log()
      assert.are.equal("drop", log[#log - 1].fault)
      assert.are.equal(444, log[#log - 1].status)
    end)

    it("truncated sends the full Content-Length but only part of the body", function()
      fake:config { lifecycle = { polls = 0 } }
      local job = post(P.agg, { interval = iv })
      fake:fault { fault = "truncated", match = { method = "GET" } }
      local r = get(job.json.selfUri)
      assert.is_nil(r.status)
      assert.is_string(r.code)
      local log = fake:log()
      assert.are.equal("truncated", log[#log].fault)
      assert.are.equal(200, log[#log].status)
      local ok = get(job.json.selfUri)
      assert.are.equal(200, ok.status)
      assert.are.equal("Succeeded", ok.json.queryStatus)
    end)

    it("malformed answers 200 with a broken JSON body", function()
      fake:fault { fault = "malformed" }
      local r = post(P.agg, { interval = iv })
      assert.are.equal(200, r.status)
      assert.is_nil(r.json)
      assert.is_true(#r.body > 0)
    end)

    it("expired_token answers 401 credentials.expired and revokes the token", function()
      local t = fake:token("demo")
      fake:fault { fault = "expired_token" }
      assert_error(post(P.agg, { interval = iv }, { token = t }), 401, "credentials.expired")
      assert_error(post(P.agg, { interval = iv }, { token = t }), 401, "credentials.expired")
      assert.are.equal(200, post(P.agg, { interval = iv }).status) -- other tokens still work
    end)

    it("lists pending faults and consumes them; count = -1 stays until reset", function()
      fake:fault { fault = "status", status = 500, count = 2 }
      fake:fault { fault = "slow", delay = 0, count = -1, match = { path = "/never" } }
      local list = fake:faults()
      assert.are.equal(2, #list)
      assert.are.equal("status", list[1].fault)
      assert.are.equal(2, list[1].remaining)
      post(P.agg, { interval = iv })
      assert.are.equal(1, fake:faults()[1].remaining)
      post(P.agg, { interval = iv })
      assert.are.equal(1, #fake:faults())
      fake:reset()
      assert.are.equal(0, #fake:faults())
    end)

    it("latency delays every API answer", function()
      fake:config { latency = 0.2 }
      local t0 = clock()
      post(P.agg, { interval = iv })
      assert.is_true(clock() - t0 >= 0.18)
      assert.are.equal(0.2, fake:config().latency)
    end)
  end)

  describe("rate limit", function()
    it("gives real 429s per token in a fixed window", function()
      fake:config { rate_limit = { requests = 3, per = 1 } }
      local other = fake:token("org_viewer")
      for i = 1, 3 do
        local r = post(P.agg, { interval = JOB })
        assert.are.equal(200, r.status)
        assert.are.equal(tostring(i), r.headers["inin-ratelimit-count"])
        assert.are.equal("3", r.headers["inin-ratelimit-allowed"])
      end
      local r = post(P.agg, { interval = JOB })
      assert_error(r, 429, "too.many.requests.retry.after")
      assert.are.equal("1", r.headers["retry-after"])
      assert.is_truthy(r.json.message:find("[1]", 1, true))
      assert.are.equal(200, post(P.agg, { interval = JOB }, { token = other }).status)
      os.execute("sleep 1.05")
      assert.are.equal(200, post(P.agg, { interval = JOB }).status)
    end)
  end)

  describe("request log", function()
    it("records every API request with its status, fault and client", function()
      fake:fault { fault = "status", status = 500, match = { path = "/simplesearch" } }
      post(P.agg, { interval = JOB }, { headers = { ["X-Custom-Thing"] = "yes" } })
      post(P.search, { interval = JOB })
      get("/api/v2/usage/query/abc/results?x=1&y=2", { token = false })
      login("client-viewer", "client-viewer-secret")
      fake:config {}  -- control calls are not logged
      local log = fake:log()
      assert.are.equal(4, #log)
      local a, b, c, d = log[1], log[2], log[3], log[4]
      assert.are.equal("POST", a.method)
      assert.are.equal(P.agg, a.path)
      assert.are.equal("", a.query)
      assert.are.equal("yes", a.headers["x-custom-thing"])
      assert.are.equal("application/json", a.headers["content-type"])
      assert.are.same({ interval = JOB }, cjson.decode(a.body))
      assert.are.equal(200, a.status)
      assert.is_nil(a.fault)
      assert.are.equal("demo-client", a.client_id)
      assert.is_number(a.time)
      assert.is_true(math.abs(a.time - os.time()) < 60)
      assert.are.equal(500, b.status)
      assert.are.equal("status", b.fault)
      assert.are.equal("x=1&y=2", c.query)
      assert.are.equal(401, c.status)
      assert.is_nil(c.client_id)
      assert.are.equal("/oauth/token", d.path)
      assert.are.equal("client-viewer", d.client_id)
      assert.is_true(a.seq < b.seq and b.seq < c.seq and c.seq < d.seq)
      local since = fake:log(b.seq)
      assert.are.equal(2, #since)
      assert.are.equal(c.seq, since[1].seq)
      fake:clear_log()
      assert.are.equal(0, #fake:log())
    end)

    it("can be limited or switched off", function()
      fake:config { log_limit = 2 }
      for _ = 1, 4 do get("/nowhere") end
      assert.are.equal(2, #fake:log())
      fake:config { log = false }
      get("/nowhere")
      assert.are.equal(2, #fake:log())
    end)
  end)

  describe("reset", function()
    it("restores the defaults and clears faults, log, jobs and rate-limit windows but keeps tokens", function()
      fake:config { latency = 0.01, result_rows = 5, rate_limit = { requests = 1, per = 60 }, status_case = "upper",
        today = "2026-01-01", accepted = true, omit_query_status = true, max_response_bytes = 100000,
        next_uri = "opaque" }
      fake:fault { fault = "status", status = 500, count = 5, match = { path = "/never" } }
      post(P.agg, { interval = JOB })
      assert.are.equal(429, post(P.agg, { interval = JOB }).status)
      assert.is_true(#fake:jobs() > 0)
      local r = fake:reset()
      assert.is_true(r.ok)
      local c = fake:config()
      assert.are.equal(0, c.latency)
      assert.is_false(c.result_rows)
      assert.is_false(c.rate_limit)
      assert.is_false(c.status_case)
      assert.is_false(c.today)
      assert.is_false(c.accepted)
      assert.is_false(c.omit_query_status)
      assert.is_false(c.max_response_bytes)
      assert.are.equal("relative", c.next_uri)
      assert.are.same({ polls = 1 }, c.lifecycle)
      assert.are.equal(0, #fake:faults())
      assert.are.equal(0, #fake:log())
      assert.are.equal(0, #fake:jobs())
      assert.are.equal(200, post(P.agg, { interval = JOB }).status) -- same token, new window
      local t = fake:token("demo")
      fake:reset { drop_tokens = true }
      assert_error(post(P.agg, { interval = JOB }, { token = t }), 401, "bad.credentials")
      TOKEN = fake:token("demo")
    end)
  end)

  describe("202 answers (config accepted)", function()
    local cid = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd"

    it("submit: every submit that documents 202 answers it, with its usual body", function()
      fake:config { accepted = { submit = true }, lifecycle = { polls = 0 } }
      local q = post(P.query, { interval = IV })
      assert.are.equal(202, q.status)
      assert.are.equal("/api/v2/usage/query/" .. q.json.executionId .. "/results", q.json.resultsUri)
      local cq = post(client_path(cid), { interval = IV })
      assert.are.equal(202, cq.status)
      assert.are.equal("/api/v2/oauth/clients/" .. cid .. "/usage/query/results/" .. cq.json.executionId, cq.json.resultsUri)
      local s = post(P.search, { interval = IV })
      assert.are.equal(202, s.status)
      assert.are.equal("/api/v2/usage/simplesearch/" .. s.json.executionId .. "/results", s.json.resultsUri)
      local sum = get("/api/v2/oauth/clients/" .. cid .. "/usage/summary")
      assert.are.equal(202, sum.status)
      assert.is_string(sum.json.executionId)
      local j = post(P.agg, { interval = JOB })
      assert.are.equal(202, j.status)
      assert.are.equal("/api/v2/usage/aggregates/query/jobs/" .. j.json.id, j.json.selfUri)
      local cj = post(client_agg_path(cid), { interval = JOB })
      assert.are.equal(202, cj.status)
      assert.is_string(cj.json.id)
      -- the results are read as usual
      for _, r in ipairs({ q, cq, s, sum }) do
        local f = get(r.json.resultsUri)
        assert.are.equal(200, f.status)
        assert.are.equal("Complete", f.json.queryStatus)
      end
      for _, r in ipairs({ j, cj }) do
        local f = get(r.json.selfUri)
        assert.are.equal(200, f.status)
        assert.are.equal("Succeeded", f.json.queryStatus)
      end
      -- errors stay errors
      assert_error(post(P.query, {}), 400, "bad.request", "interval")
    end)

    it("running = \"body\": Queued and Running job GETs answer 202 with their usual body", function()
      fake:config { accepted = { running = "body" }, lifecycle = { polls = 2 } }
      local j = post(P.agg, { interval = JOB })
      assert.are.equal(200, j.status)
      local a, b, c = get(j.json.selfUri), get(j.json.selfUri), get(j.json.selfUri)
      assert.are.equal(202, a.status)
      assert.are.same({ queryStatus = "Queued", selfUri = j.json.selfUri }, a.json)
      assert.are.equal(202, b.status)
      assert.are.equal("Running", b.json.queryStatus)
      assert.are.equal(200, c.status)
      assert.are.equal("Succeeded", c.json.queryStatus)
      assert.are.equal(2, #c.json.entities)
      -- old-generation result GETs document 200 only
      local q = post(P.query, { interval = IV })
      local r = get(q.json.resultsUri)
      assert.are.equal(200, r.status)
      assert.are.equal("Running", r.json.queryStatus)
    end)

    it("running = \"empty\": Queued and Running job GETs answer 202 without a body", function()
      fake:config { accepted = { running = "empty" }, lifecycle = { polls = 2 } }
      local j = post(client_agg_path(cid), { interval = JOB })
      for _ = 1, 2 do
        local r = get(j.json.selfUri)
        assert.are.equal(202, r.status)
        assert.are.equal("", r.body)
        assert.are.equal("0", r.headers["content-length"])
      end
      local f = get(j.json.selfUri)
      assert.are.equal(200, f.status)
      assert.are.equal("Succeeded", f.json.queryStatus)
    end)

    it("failed: a Failed job GET answers 202 with its usual body; Cancelled stays 200", function()
      fake:config { accepted = { failed = true }, lifecycle = { polls = 0 } }
      fake:fault { fault = "job_failed", error_message = "boom" }
      fake:fault { fault = "job_cancelled" }
      local f = get(post(P.agg, { interval = JOB }).json.selfUri)
      assert.are.equal(202, f.status)
      assert.are.equal("Failed", f.json.queryStatus)
      assert.are.equal("boom", f.json.errorBody.message)
      local c = get(post(P.agg, { interval = JOB }).json.selfUri)
      assert.are.equal(200, c.status)
      assert.are.equal("Cancelled", c.json.queryStatus)
    end)

    it("accepted = true turns all of them on (running with a body); bad values are refused", function()
      local c = fake:config { accepted = true }
      assert.are.same({ submit = true, running = "body", failed = true }, c.accepted)
      c = fake:config { accepted = { running = "empty" } }
      assert.are.same({ submit = false, running = "empty", failed = false }, c.accepted)
      assert.has_error(function() fake:config { accepted = { running = "none" } } end)
      assert.has_error(function() fake:config { accepted = { later = true } } end)
      assert.has_error(function() fake:config { accepted = "yes" } end)
      assert.is_false(fake:config { accepted = false }.accepted)
    end)
  end)

  describe("response size (config max_response_bytes)", function()
    before_each(function()
      fake:config { lifecycle = { polls = 0 }, result_rows = 50 }
    end)

    it("job pages over the limit: 400 max.response.size.reached; a smaller pageSize on the same cursor works", function()
      for _, path in ipairs({ P.agg, client_agg_path(catalog.clients[1].id) }) do
        local j = post(path, { interval = JOB })
        local first = get(j.json.selfUri .. "?pageSize=10")
        local second = get(first.json.nextUri)
        -- the two first pages of 10 rows fit, the larger one exactly (client names differ in length)
        local limit = math.max(#first.body, #second.body)
        fake:config { max_response_bytes = limit }
        assert.are.equal(first.body, get(j.json.selfUri .. "?pageSize=10").body)
        assert.are.equal(second.body, get(first.json.nextUri).body)
        local r = get(j.json.selfUri .. "?pageSize=11")
        assert_error(r, 400, "max.response.size.reached")
        assert.is_nil(r.json.entities)
        -- the next page: too big with 20 rows, fine with 10, then with 5 from the same cursor
        local nu = first.json.nextUri
        local after = nu:match("after=([^&]+)")
        assert_error(get(j.json.selfUri .. "?after=" .. after .. "&pageSize=20"), 400, "max.response.size.reached")
        local ok = get(j.json.selfUri .. "?after=" .. after .. "&pageSize=5")
        assert.are.equal(200, ok.status, ok.body)
        assert.are.equal(5, #ok.json.entities)
        assert.are.equal(200, get(nu).status)
        fake:config { max_response_bytes = false }
        assert.are.equal(200, get(j.json.selfUri .. "?pageSize=1000").status)
      end
    end)

    it("simple search pages over the limit: 400 response.entity.too.large", function()
      local s = post(P.search, { interval = IV })
      local first = get(s.json.resultsUri .. "?pageSize=10")
      fake:config { max_response_bytes = #first.body }
      assert.are.equal(200, get(s.json.resultsUri .. "?pageSize=10").status)
      assert_error(get(s.json.resultsUri .. "?pageSize=12"), 400, "response.entity.too.large")
      local after = first.json.cursors.after
      assert_error(get(s.json.resultsUri .. "?pageSize=30&after=" .. after), 400, "response.entity.too.large")
      local ok = get(s.json.resultsUri .. "?pageSize=3&after=" .. after)
      assert.are.equal(200, ok.status)
      assert.are.equal(3, #ok.json.results)
    end)

    it("leaves answers that are not pages alone", function()
      fake:config { max_response_bytes = 1, lifecycle = { polls = 1 } }
      local j = post(P.agg, { interval = JOB })
      assert.are.equal(200, j.status)
      assert.are.equal("Queued", get(j.json.selfUri).json.queryStatus)
      assert_error(get(j.json.selfUri), 400, "max.response.size.reached")
      local q = post(P.search, { interval = IV })
      assert.are.equal("Running", get(q.json.resultsUri).json.queryStatus)
      assert.has_error(function() fake:config { max_response_bytes = 0 } end)
    end)
  end)

  describe("nextUri styles (config next_uri)", function()
    -- every row of a job, following nextUri exactly as given
    local function follow(selfUri, page_size)
      local page = get(selfUri .. "?pageSize=" .. page_size)
      assert.are.equal(200, page.status, page.body)
      local rows, uris = {}, {}
      while true do
        for _, e in ipairs(page.json.entities) do rows[#rows + 1] = e end
        if is_null(page.json.nextUri) then break end
        uris[#uris + 1] = page.json.nextUri
        page = get(page.json.nextUri)
        assert.are.equal(200, page.status, page.body)
        assert.is_true(#uris < 100)
      end
      return rows, uris
    end

    before_each(function()
      fake:config { lifecycle = { polls = 0 }, result_rows = 25 }
    end)

    it("relative by default: the job path with after= and pageSize=", function()
      assert.are.equal("relative", fake:config().next_uri)
      local j = post(P.agg, { interval = JOB })
      local rows, uris = follow(j.json.selfUri, 10)
      assert.are.equal(25, #rows)
      assert.are.equal(2, #uris)
      assert.is_truthy(uris[1]:match("^/api/v2/usage/aggregates/query/jobs/[%x%-]+%?after=[%w_%-]+&pageSize=10$"), uris[1])
    end)

    it("absolute: scheme, the request's Host and the path; following it gives the next page", function()
      local j = post(P.agg, { interval = JOB })
      local want = follow(j.json.selfUri, 10)
      fake:config { next_uri = "absolute" }
      local rows, uris = follow(j.json.selfUri, 10)
      assert.are.same(want, rows)
      local prefix = "http://127.0.0.1:" .. fake.port .. j.json.selfUri .. "?after="
      for _, u in ipairs(uris) do assert.are.equal(prefix, u:sub(1, #prefix)) end
      local h = get(j.json.selfUri .. "?pageSize=10", { headers = { host = "usage.example.test:8443" } })
      assert.are.equal("http://usage.example.test:8443" .. j.json.selfUri .. "?after=",
        h.json.nextUri:sub(1, #("http://usage.example.test:8443" .. j.json.selfUri .. "?after=")))
    end)

    it("opaque: a page token in its own parameter, no after=; job GETs accept it", function()
      local cid = catalog.clients[4].id
      for _, path in ipairs({ P.agg, client_agg_path(cid) }) do
        local j = post(path, { interval = JOB })
        local want = follow(j.json.selfUri, 10)
        fake:config { next_uri = "opaque" }
        local rows, uris = follow(j.json.selfUri, 10)
        assert.are.same(want, rows)
        assert.are.equal(2, #uris)
        for _, u in ipairs(uris) do
          assert.is_falsy(u:find("after=", 1, true), u)
          assert.is_truthy(u:match("^" .. j.json.selfUri:gsub("%-", "%%-") .. "%?page=[%w_%-]+&pageSize=10$"), u)
        end
        -- the same page with another page size from the same token
        local other = get((uris[1]:gsub("pageSize=10", "pageSize=3")))
        assert.are.same({ want[11], want[12], want[13] }, other.json.entities)
        -- tokens of one job are not valid for another
        local j2 = post(path, { interval = JOB })
        assert_error(get(j2.json.selfUri .. "?" .. uris[1]:match("%?(.*)$")), 400, "invalid.query.param.value", "page")
        fake:config { next_uri = "relative" }
      end
      assert.has_error(function() fake:config { next_uri = "weird" } end)
    end)
  end)

  describe("control endpoint", function()
    it("answers health, catalog, jobs and raw data", function()
      assert.are.same({ ok = true }, J(get("/__fake/health", { token = false }).body))
      fake:config { lifecycle = { polls = 2 } }
      local r = post(P.agg, { interval = JOB })
      get(r.json.selfUri)
      local jobs = fake:jobs()
      assert.are.equal(1, #jobs)
      assert.are.equal(r.json.id, jobs[1].id)
      assert.are.equal("agg", jobs[1].kind)
      assert.are.equal(1, jobs[1].polls)
      assert.are.same({ polls = 2 }, jobs[1].lifecycle)
      assert.has_error(function() fake:data("2025-03-05", "2025-03-01") end)
      local heavy = fake:data("2025-03-03", "2025-03-03", { client_id = catalog.clients[2].id, scope = "all" })
      for _, rec in ipairs(heavy) do assert.are.equal(catalog.clients[2].id, rec.clientId) end
      assert.is_true(#heavy > 0)
    end)
  end)
end)
