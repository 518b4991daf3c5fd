-- usage.forecast outputs: JSON (the method, its inputs, every figure with its days; the projection is
-- recomputed here independently, from the raw rows and from the JSON's own inputs), the table for people,
-- and the Prometheus gauges (promtool check metrics).
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local json = require "usage.base.json"
local nginx = require "support.nginx"
local support = require "support.prometheus"
local recompute = require("support.forecast_recompute").recompute

local floor = math.floor

---------------------------------------------------------------------------------------------------
-- a noisy org: a deterministic generator, weekday pattern, a runaway, a gap

local function lcg(seed)
  local s = seed
  return function()
    s = (s * 16807) % 2147483647 -- exact in doubles too (LuaJIT)
    return s / 2147483647
  end
end

local CLIENTS = {
  { "c1", "Salesforce Bridge", 1400000 }, { "c2", "WFM Sync", 900000 }, { "c3", "Reporting", 450000 },
  { "c4", "Chat Bot", 300000 }, { "c5", "QA Harness (staging)", 12000 }, { "c6", "Équipe Reporting", 80000 },
}

local function noisy(now, opts)
  opts = opts or {}
  local rnd = lcg(opts.seed or 7)
  local span = forecast.span(now)
  local rows = {}
  for d = span.first_day, span.last_day do
    local date = interval.date(d)
    local weekend = (d + 3) % 7 >= 5
    for _, c in ipairs(CLIENTS) do
      local v = floor(c[3] * (weekend and 0.35 or 1) * (0.85 + 0.3 * rnd()))
      if not (opts.gap and date == opts.gap) then
        rows[#rows + 1] = { date = date, client_id = c[1], client_name = c[2], requests = v }
      end
    end
    if opts.runaway and date >= opts.runaway then
      rows[#rows + 1] = { date = date, client_id = "rx", client_name = "Runaway Sync", requests = floor(4500000 * (0.9 + 0.2 * rnd())) }
    end
  end
  return rows
end

local function as_data(rows)
  local data = {}
  for _, r in ipairs(rows) do
    data[r.client_id] = data[r.client_id] or {}
    data[r.client_id][r.date] = (data[r.client_id][r.date] or 0) + r.requests
  end
  return data
end

describe("usage.forecast outputs", function()
  local A = 140000000
  local cases = {
    { "noisy, steady", "2026-03-20T07:30:00Z", {} },
    { "noisy, a runaway from the 10th", "2026-03-20T07:30:00Z", { runaway = "2026-03-10" } },
    { "noisy, runaway, a day missing", "2026-03-17T07:30:00Z", { runaway = "2026-03-10", missing = "2026-03-04" } },
    { "the 1st of a month", "2026-04-01T00:30:00Z", { runaway = "2026-03-25" } },
    { "the last day of a month", "2026-01-31T23:59:59Z", { seed = 99 } },
  }
  for _, case in ipairs(cases) do
    it("JSON: the projection recomputed independently from the raw rows and from the JSON's inputs: " .. case[1], function()
      local now = assert(interval.parse_instant(case[2]))
      local rows = noisy(now, case[3])
      local known
      if case[3].missing then known = function(date) return date ~= case[3].missing end end
      local r = assert(forecast.compute { now = now, org = "acme", allowance = A, rows = rows, known = known })
      local doc = json.decode(forecast.json(r))
      assert.equal("genesys-usage forecast", doc.kind)
      assert.equal(1, doc.version)
      assert.equal("weekday run rate", doc.method.name)

      -- from the raw rows
      local known_set = {}
      local span = forecast.span(now)
      for d = span.first_day, span.last_day do
        local s = interval.date(d)
        if not known or known(s) then known_set[s] = true end
      end
      local data = as_data(rows)
      for _, day in pairs(data) do
        for date in pairs(day) do if not known_set[date] then day[date] = nil end end
      end
      local today = case[2]:sub(1, 10)
      local want = recompute(data, known_set, today, A)
      assert.equal(want.projection, doc.projection.requests)
      assert.equal(want.mtd, doc.month_to_date.requests)
      assert.equal(want.low, doc.projection.band and doc.projection.band.low or nil)
      assert.equal(want.high, doc.projection.band and doc.projection.band.high or nil)
      for _, c in ipairs(doc.clients) do
        assert.equal(want.clients[c.id], c.projection.requests, c.name)
      end

      -- from the JSON's inputs alone
      local data2, known2 = {}, {}
      for _, d in ipairs(doc.inputs.days) do if d.known then known2[d.date] = true end end
      for _, c in ipairs(doc.inputs.clients) do
        data2[c.id] = {}
        for i, v in ipairs(c.requests) do
          if v ~= json.null then data2[c.id][doc.inputs.days[i].date] = v end
        end
      end
      local again = recompute(data2, known2, doc.today.date, doc.allowance.requests)
      assert.equal(doc.projection.requests, again.projection)
      -- the org's daily figures in the inputs add up to the clients'
      for i, d in ipairs(doc.inputs.days) do
        if d.known then
          local s = 0
          for _, c in ipairs(doc.inputs.clients) do s = s + c.requests[i] end
          assert.equal(d.requests, s, d.date)
        else
          assert.is_nil(d.requests)
        end
      end
      if case[3].runaway and case[1] ~= "the 1st of a month" then
        assert.equal("Runaway Sync", doc.called_out[1].name)
      end
    end)
  end

  it("JSON: arrays stay arrays, names from a server become valid UTF-8", function()
    local now = assert(interval.parse_instant("2026-03-15T08:00:00Z"))
    local r = assert(forecast.compute { now = now, allowance = A, rows = {
      { date = "2026-03-10", client_id = "x", client_name = "bad \255 byte", requests = 5 } } })
    local text = forecast.json(r)
    assert.truthy(text:find('"called_out":[]', 1, true))
    assert.truthy(text:find("bad \239\191\189 byte", 1, true))
    assert.is_nil(text:find("\255", 1, true))
    local doc = json.decode(text)
    assert.equal(5, doc.month_to_date.requests)
  end)

  it("text: the table an admin reads, every figure with its days", function()
    local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
    local r = assert(forecast.compute { now = now, org = "acme", rows = noisy(now, { runaway = "2026-03-10" }),
                                        allowance = assert(forecast.allowance { licenses = "cx3=1000" }) })
    local t = forecast.text(r)
    local T = require("usage.base.text").thousands
    assert.truthy(t:find("API usage forecast for acme, March 2026 (today, 20 March 2026, is not over: not counted)", 1, true))
    assert.truthy(t:find("allowance +140,000,000 +1,000 CX 3 / CX 3 Digital named x 140,000"), t)
    assert.truthy(t:find("month to date +" .. T(r.month_to_date.requests) .. " +[%d.]+%% +1%-19 March 2026 %(19 days%)"), t)
    assert.truthy(t:find("projection +" .. T(r.projection.requests) .. " +[%d.]+%% +1%-31 March 2026 %(31 days%): 19 counted %+ 12 estimated"), t)
    assert.truthy(t:find("runs out", 1, true))
    assert.truthy(t:find("Runaway Sync (first request 10 March 2026): new: ", 1, true), t)
    assert.truthy(t:find("Salesforce Bridge", 1, true))
    assert.truthy(t:find("Équipe Reporting", 1, true))
    -- the top of the table lists the called-out client first: it drives the month
    assert.truthy(t:find("Runaway Sync +[%d,]+ +[%d,]+ +[%d.]+%% +new +new"), t)
    -- fewer rows: the rest summed
    local t2 = forecast.text(r, { clients = 2 })
    assert.truthy(t2:find("(5 more)", 1, true), t2)
  end)

  it("Prometheus: the gauges with their org label pass promtool check metrics", function()
    local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
    local a = assert(forecast.compute { now = now, org = "acme", rows = noisy(now, { runaway = "2026-03-10" }), allowance = A })
    local rows = noisy(now, { seed = 3 })
    rows[#rows + 1] = { date = "2026-03-11", client_id = "h", client_name = 'say "hi"\\\n\255', requests = 7 }
    local b = assert(forecast.compute { now = now, org = "globex \"EU\"", rows = rows, allowance = 50000000 })
    local text = forecast.prometheus({ a, b })
    local function sample(name, labels)
      local line = text:match("\n" .. name:gsub("_", "%%_") .. "{" .. labels:gsub("[%p]", "%%%0") .. "} ([^\n]+)")
      return line and tonumber(line)
    end
    assert.equal(a.month_to_date.requests, sample("genesys_usage_month_to_date_requests", 'org="acme"'))
    assert.equal(a.projection.requests, sample("genesys_usage_projected_requests", 'org="acme"'))
    assert.equal(a.projection.band.low, sample("genesys_usage_projected_low_requests", 'org="acme"'))
    assert.equal(a.projection.band.high, sample("genesys_usage_projected_high_requests", 'org="acme"'))
    assert.equal(A, sample("genesys_usage_allowance_requests", 'org="acme"'))
    assert.equal(50000000, sample("genesys_usage_allowance_requests", 'org="globex \\"EU\\""'))
    assert.equal(interval.parse_instant("2026-03-01"), sample("genesys_usage_month_to_date_start_timestamp_seconds", 'org="acme"'))
    assert.equal(interval.parse_instant("2026-03-20"), sample("genesys_usage_month_to_date_end_timestamp_seconds", 'org="acme"'))
    assert.equal(now, sample("genesys_usage_forecast_timestamp_seconds", 'org="acme"'))
    assert.truthy(text:find('client_name="say \\"hi\\"\\\\\\n\239\191\189"', 1, true), text)
    for _, f in ipairs(forecast.FAMILIES) do
      assert.truthy(text:find("# TYPE " .. f.name .. " gauge\n", 1, true), f.name)
    end

    assert(support.which("promtool"), "promtool is missing: `make deps` installs it (Debian package prometheus)")
    local path = os.tmpname()
    nginx.write_file(path, text)
    local p = io.popen("promtool check metrics < " .. nginx.sh_quote(path) .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("*a")
    p:close()
    os.remove(path)
    assert.truthy(out:find("rc=0\n", 1, true), "promtool check metrics:\n" .. out)

    -- the per-client series are capped: the rest summed into "other"
    local capped = forecast.prometheus(a, { max_clients = 3 })
    local n = 0
    for _ in capped:gmatch("\ngenesys_usage_oauth_client_projected_requests{") do n = n + 1 end
    assert.equal(3, n)
    local other = 0
    for i = 3, #a.clients do other = other + a.clients[i].projection.requests end
    assert.truthy(capped:find('client_id="other",client_name="other",org="acme"} ' .. other .. "\n", 1, true), capped)
  end)

  it("Prometheus: no projection, no projection gauges; the same org twice is refused", function()
    local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
    local r = assert(forecast.compute { now = now, org = "acme", rows = {}, known = {}, allowance = A })
    local text = forecast.prometheus(r)
    assert.is_nil(text:find("genesys_usage_projected", 1, true))
    assert.truthy(text:find('genesys_usage_month_to_date_requests{org="acme"} 0', 1, true))
    assert.has_error(function() forecast.prometheus({ r, r }) end)
    assert.has_error(function() forecast.prometheus("x") end)
  end)
end)

describe("usage.forecast outputs on every edge case", function()
  local A = 140000000
  local function day_rows(now, from, fn)
    local span = forecast.span(now)
    local rows = {}
    for d = span.first_day, span.last_day do
      local date = interval.date(d)
      if date >= from then
        for _, c in ipairs(fn(date)) do rows[#rows + 1] = { date = date, client_id = c[1], client_name = c[2], requests = c[3] } end
      end
    end
    return rows
  end
  local now = assert(interval.parse_instant("2026-03-15T08:00:00Z"))
  local first = assert(interval.parse_instant("2026-04-01T00:00:00Z"))
  local hostile = "\27[31mred\27[0m | 'q' = \"d\"\n\255"
  local many = {}
  for i = 1, 40 do many[i] = { "n" .. i, "New " .. i, i >= 30 and 3000000 or 1000 } end
  local cases = {
    { "no history", now, {}, { known = {} } },
    { "idle org", now, {}, {} },
    { "the 1st", first, day_rows(first, "2026-02-01", function() return { { "a", "A", 4000000 } } end), {} },
    { "a new org", now, day_rows(now, "2026-03-08", function() return { { "a", "A", 4000000 } } end), {} },
    { "gaps", now, day_rows(now, "2026-02-01", function() return { { "a", "A", 4000000 } } end),
      { known = function(d) return d ~= "2026-03-05" end } },
    { "hostile names", now, day_rows(now, "2026-02-01", function(d)
        return { { "h", hostile, 4000000 }, { "", hostile, d >= "2026-03-09" and 9000000 or 0 } } end), {} },
    { "many new clients", now, day_rows(now, "2026-02-01", function(d)
        local out = { { "base", "Base", 4000000 } }
        if d >= "2026-03-10" then for _, c in ipairs(many) do out[#out + 1] = c end end
        return out
      end), {} },
  }
  for _, c in ipairs(cases) do
    it("renders " .. c[1], function()
      local opts = { now = c[2], org = "acme", allowance = A, rows = c[3], source = { kind = "test", outside = 2 } }
      for k, v in pairs(c[4]) do opts[k] = v end
      local r = assert(forecast.compute(opts))
      local t = forecast.text(r)
      assert.is_nil(t:find("[%z\1-\9\11-\31\127]"), "a control character in the table")
      assert.is_nil(t:find("\255", 1, true))
      local out, status = forecast.plugin(r)
      assert.is_true(status >= 0 and status <= 3)
      local first_line = out:match("^[^\n]*")
      local _, bars = first_line:gsub("|", "")
      assert.is_true(bars <= 1, first_line)
      assert.is_nil(out:match("^[^\n]*\n(.*)$"):find("|", 1, true))
      assert.is_true(#out < 4096, "the plugin output must fit NRPE's 4 KB: " .. #out)
      local doc = json.decode(forecast.json(r))
      assert.equal(r.month_to_date.requests, doc.month_to_date.requests)
      local prom = forecast.prometheus(r)
      assert.truthy(prom:find("genesys_usage_allowance_requests", 1, true))
      assert.truthy(table.concat(r.notes, "\n"):find("2 rows the source sent for days it was not asked for", 1, true))
    end)
  end
end)
