-- One aggregation for the report, the metrics and the store (usage.rows): one rule to name a client (the
-- name on its latest row), exact totals or a command that says it cannot give them (Lua 5.4 integers that
-- would wrap around, LuaJIT doubles past 2^53, never inf or NaN in JSON or SVG), and a metrics overflow
-- bucket that never collides with a real client (issue 18 "wrong answers"; issue 17 items 17 and 18).

local rows = require "usage.base.rows"
local aggregate = require "usage.cli.report.aggregate"
local prometheus = require "usage.prometheus"
local hostile = require "support.hostile"
local nginx = require "support.nginx"
local support = require "support.cli"

local IS_54 = math.type ~= nil

describe("usage.rows: the one aggregation", function()
  it("needs nothing of the command line", function()
    local src = nginx.read_file("lua/usage/base/rows.lua")
    assert.is_nil(src:find("usage%.cli"), "usage.rows requires usage.cli")
    local interp = jit and "luajit" or "lua5.4"
    local p = io.popen("LUA_PATH='lua/?.lua;lua/?/init.lua' " .. interp .. " -e '" ..
                       "local r = require \"usage.base.rows\"; local agg = r.aggregation{endpoints=true,pairs=true};" ..
                       "agg:add{date=\"2026-11-30\",requestCount=1}; for k in pairs(package.loaded) do " ..
                       "if k:find(\"^usage%.cli\") then print(k) end end' 2>&1")
    local out = p:read("*a")
    p:close()
    assert.equal("", out)
  end)

  it("report and metrics both build on it", function()
    for _, path in ipairs { "lua/usage/cli/report/aggregate.lua", "lua/usage/prometheus/init.lua" } do
      assert.truthy(nginx.read_file(path):find('require "usage.base.rows"', 1, true), path)
    end
  end)

  ------------------------------------------------------------------------------------------------
  describe("one name per client: the name on its latest row", function()
    local ROWS = {
      { date = "2026-11-01", oauthClient = { id = "c1", name = "Old name" }, requestCount = 5,
        templateUri = "api/v2/users", httpMethod = "GET" },
      { date = "2026-11-03", oauthClient = { id = "c1", name = "New name" }, requestCount = 7,
        templateUri = "api/v2/users", httpMethod = "GET" },
      { date = "2026-11-02", oauthClient = { id = "c1", name = "Middle name" }, requestCount = 1,
        templateUri = "api/v2/users", httpMethod = "GET" },
      { date = "2026-11-03", oauthClient = { id = "c2", name = "Beta" }, requestCount = 2 },
      { date = "2026-11-03", oauthClient = { id = "c2", name = "Alpha" }, requestCount = 2 },
      { date = "2026-11-04", oauthClient = { id = "c2", name = "" }, requestCount = 2 },
    }

    local function names_by_report(list)
      local agg = aggregate.new()
      for _, r in ipairs(list) do aggregate.add_row(agg, r) end
      local out = {}
      for _, c in ipairs(aggregate.rank(agg, { top = 10 }).clients) do out[c.id] = c.name end
      return out
    end
    local function names_by_metrics(list)
      local out = {}
      for _, c in ipairs(prometheus.fold_rows(list)) do out[c.id] = c.name end
      return out
    end

    it("whatever order the rows come in, in the report and in the metrics alike", function()
      local orders = { ROWS, {}, {} }
      for i = #ROWS, 1, -1 do orders[2][#orders[2] + 1] = ROWS[i] end
      for i, r in ipairs(ROWS) do orders[3][(i % 2 == 0) and (#orders[3] + 1) or 1] = r end
      for _, list in ipairs(orders) do
        local want = { c1 = "New name", c2 = "Beta" } -- same day: the greatest name; an empty name never wins
        assert.same(want, names_by_report(list))
        assert.same(want, names_by_metrics(list))
      end
    end)

    it("the client x endpoint pairs carry the client's one name", function()
      local agg = aggregate.new()
      for _, r in ipairs(ROWS) do aggregate.add_row(agg, r) end
      local r = aggregate.rank(agg, { top = 10 })
      assert.equal(1, #r.pairs)
      assert.equal("New name", r.pairs[1].name)
      assert.equal(13, r.pairs[1].requests)
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("exact sums", function()
    it("rows.sum adds exactly or says it cannot", function()
      assert.equal(7, rows.sum(3, 4))
      assert.equal(2 ^ 53, rows.sum(0, 2 ^ 53)) -- one count as it came
      assert.is_nil(rows.sum(1e308, 1e308))
      assert.is_nil(rows.sum(1, 0 / 0))
      assert.is_nil(rows.sum(1, math.huge))
      assert.is_nil(rows.sum(1.5, 1))
      if IS_54 then
        assert.is_nil(rows.sum(math.tointeger(2 ^ 62), math.tointeger(2 ^ 62))) -- would wrap to a negative
        assert.equal(math.maxinteger, rows.sum(math.maxinteger - 1, 1))
        assert.is_nil(rows.sum(math.maxinteger, 1))
        assert.equal(6000000000000000000, rows.sum(3000000000000000000, 3000000000000000000))
      else
        assert.is_nil(rows.sum(2 ^ 62, 2 ^ 62))
        assert.equal(2 ^ 53 - 1, rows.sum(2 ^ 53 - 2, 1))
        assert.is_nil(rows.sum(2 ^ 53 - 1, 1))
      end
    end)

    it("an aggregation knows when its totals are not exact, and says which", function()
      local agg = rows.aggregation { endpoints = true }
      agg:add { date = "2026-11-30", oauthClient = { id = "c" }, requestCount = 2 ^ 62 }
      assert.is_true(agg:exact())
      agg:add { date = "2026-11-30", oauthClient = { id = "c" }, requestCount = 2 ^ 62 }
      local ok, why = agg:exact()
      assert.is_false(ok)
      assert.matches("requests", why)
      assert.is_true(agg.total.requests > 0) -- never a wrapped-around negative
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("the metrics' overflow bucket", function()
    it("never collides with a real client called other", function()
      local clients = {
        { id = "other", name = "other", requests = 100 },
        { id = "a", name = "A", requests = 50 },
        { id = "b", name = "B", requests = 10 },
        { id = "c", name = "C", requests = 5 },
      }
      local text = prometheus.render { max_clients = 2, usage = { day = { first = "2026-11-30", last = "2026-11-30",
                                                                          clients = clients } } }
      assert.truthy(text:find('client_id="other",client_name="other",org="default",period="day"} 100\n', 1, true), text)
      assert.truthy(text:find('client_id="other_2",client_name="other",org="default",period="day"} 65\n', 1, true), text)
      -- a client "other" among the rest is summed into the bucket like any other
      clients[1].requests = 1
      local t2 = prometheus.render { max_clients = 2, usage = { day = { clients = clients } } }
      assert.truthy(t2:find('client_id="other",client_name="other",org="default",period="day"} 16\n', 1, true), t2)
    end)

    it("leaves out a sum it cannot give exactly, and says so", function()
      local problems = {}
      local text = prometheus.render { problems = problems, max_clients = 1, usage = { day = { clients = {
        { id = "a", requests = 2 ^ 62 }, { id = "b", requests = 2 ^ 62 } } } } }
      assert.equal(1, #problems)
      assert.truthy(text:find("# genesys_usage figures.usage.day.clients: the requests of the other clients cannot " ..
                              "be given exactly", 1, true), text)
      assert.is_nil(text:find('client_id="other"', 1, true))
    end)
  end)
end)

----------------------------------------------------------------------------------------------------
-- the commands, against a server that sends counts whose sums no interpreter holds

describe("genesys-usage totals", function()
  local srv, t
  local TOKEN = "tok-" .. string.rep("Sum9", 20)

  setup(function()
    srv = hostile.start()
    t = support.new { base_url = srv.base_url, client_id = "sums-client", client_secret = "sums-secret" }
  end)
  teardown(function()
    if srv then srv:stop() end
    if t then t:cleanup() end
  end)

  -- an aggregates job whose rows carry `count` as requestCount, status400 and status429: two rows of one
  -- client and one endpoint, yesterday
  local function serve(count)
    srv:script(hostile.with_login(TOKEN, [[
local COUNT = ]] .. string.format("%q", count) .. [[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
  local row = '{"date":"%s","oauthClient":{"id":"c1","name":"Huge"},"templateUri":"api/v2/x","httpMethod":"GET",' ..
              '"requestCount":' .. COUNT .. ',"status200":0,"status300":0,"status400":' .. COUNT ..
              ',"status429":' .. COUNT .. ',"status500":0}'
  local day = os.date("!%Y-%m-%d", os.time() - 86400) -- (yesterday: in the metrics' day and month alike)
  return 200, nil, '{"queryStatus":"Succeeded","entities":[' .. row:format(day) .. ',' .. row:format(day) .. ']}'
end]]))
  end

  local function check(cond, r, what)
    if not cond then error((what or "assertion failed") .. "\n" .. support.show(r) .. "\n" .. srv:diagnostics(), 2) end
  end

  -- 2^62: Lua 5.4 reads it exactly and its sum would wrap; LuaJIT's doubles cannot hold it, so the library
  -- refuses it as a bad_response. 1e308: no count can be written so (an exponent above 2^53): refused everywhere.
  for _, count in ipairs { "4611686018427387904", "1e308" } do
    local refused = count == "1e308" or not IS_54
    -- what the command says: the sums it cannot give, or the count the library refused
    local says = refused and "bad_response" or "cannot be given exactly"
    describe("two counts of " .. count, function()
      setup(function() serve(count) end)

      if refused then
        it("table: exit 1, the count refused as the server's error, no rows", function()
          local r = t:run { "aggregates", "--last", "2d", "--group-by", "OauthClientId" }
          check(r.code == 1, r, "exit " .. tostring(r.code))
          check(r.err:find("bad_response", 1, true), r)
          check(not r.out:find("Huge", 1, true) and not r.out:find("inf") and not r.out:find("nan"), r)
          check(support.no_trace(r), r)
        end)
      else
        it("table: the rows, and a total marked as not exact (never negative, never inf)", function()
          local r = t:run { "aggregates", "--last", "2d", "--group-by", "OauthClientId" }
          check(r.code == 0, r)
          local total = r.out:match("\ntotal %(2 rows%)([^\n]*)")
          check(total, r, "no total line")
          check(total:find("?", 1, true) and not total:find("-%d") and not total:find("inf"), r, "a wrong total")
          check(r.out:find("? the total of requests", 1, true), r, "the table does not say it")
        end)
      end

      for _, fmt in ipairs { "json", "csv", "ndjson", "table", "svg", "html" } do
        it("report -f " .. fmt .. ": exit 1 saying why (" .. says .. "), no output", function()
          local out = t:path("r." .. fmt)
          local r = t:run { "report", "--last", "2d", "--format", fmt, "--output", out, "--svg", t:path("side.svg") }
          check(r.code == 1, r, "exit " .. tostring(r.code))
          check(r.err:find(says, 1, true), r)
          check(support.no_trace(r), r)
          check(nginx.read_file(out) == nil and nginx.read_file(t:path("side.svg")) == nil, r, "an output was written")
        end)
      end

      it("metrics: exit 1 saying why (" .. says .. "), the file as it was", function()
        local path = t:path("m.prom")
        nginx.write_file(path, "# before\n")
        local r = t:run { "metrics", "--output", path }
        check(r.code == 1, r)
        check(r.err:find(says, 1, true), r)
        check(nginx.read_file(path) == "# before\n", r, "the file changed")
      end)
    end)
  end

  it("Lua 5.4 sums big counts exactly where they fit; LuaJIT refuses a count past 2^53", function()
    serve("3000000000000000000")
    local r = t:run { "report", "--last", "2d", "--format", "json" }
    if IS_54 then
      check(r.code == 0, r)
      check(r.out:find('"requests":6000000000000000000', 1, true), r)
    else -- (3e18 is past 2^53: LuaJIT's doubles cannot hold the count itself, so the library refuses it)
      check(r.code == 1 and r.err:find("bad_response", 1, true), r)
    end
    check(not r.out:find("inf") and not r.out:find("nan"), r)
  end)
end)
