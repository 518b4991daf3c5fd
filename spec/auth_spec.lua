-- usage.http.auth on a scripted runtime: one login reused until shortly before the token ends, the
-- lifetime's bounds whatever expires_in says, one login for concurrent callers and its failure shared,
-- invalidation after a 401, fixed tokens, answers that are no token, and the login shared by nginx workers
-- through a store (a stand-in of lua_shared_dict). No server; time is the script's clock.

local script = require "support.script"
local auth_mod = require "usage.http.auth"
local redact_mod = require "usage.base.redact"
local limits = require "usage.api.limits"
local json = require "usage.base.json"

local TOKEN = "tok-" .. string.rep("B8y", 12)

-- an auth whose logins answer from `answers` (tables, or { err = ... }), counting them
local function new(answers, extra)
  local n = 0
  local redact = redact_mod.new()
  local cfg = { redact = redact, login_time = 10, fetch = function(rt)
    n = n + 1
    local a = answers[n]
    if type(a) == "function" then return a(rt) end
    if a == nil then error("no login answer " .. n) end
    if a.err then return nil, a.err end
    return a
  end }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return auth_mod.new(cfg), function() return n end, redact
end

describe("usage.http.auth", function()
  it("logs in once and reuses the token until the refresh margin before it ends", function()
    local rt = script.runtime()
    local a, logins = new { { access_token = TOKEN .. "1", expires_in = 3600 }, { access_token = TOKEN .. "2", expires_in = 3600 } }
    assert.equal(TOKEN .. "1", a:token(rt))
    assert.equal(TOKEN .. "1", a:token(rt))
    assert.equal(1, logins())
    local margin = math.min(limits.TOKEN_REFRESH_MARGIN, 3600 * limits.TOKEN_REFRESH_SHARE)
    rt.clock = rt.clock + 3600 - margin - 1
    assert.equal(TOKEN .. "1", a:token(rt))
    rt.clock = rt.clock + 2
    assert.equal(TOKEN .. "2", a:token(rt))
    assert.equal(2, logins())
    assert.equal(2, a.logins)
  end)

  it("uses a token at least TOKEN_MIN_LIFETIME and at most TOKEN_MAX_LIFETIME, whatever expires_in says", function()
    local function refresh_after(expires_in)
      local rt = script.runtime()
      local a = new { { access_token = TOKEN, expires_in = expires_in } }
      a:token(rt)
      return a.refresh_at - rt.clock
    end
    local function used(life) return life - math.min(limits.TOKEN_REFRESH_MARGIN, life * limits.TOKEN_REFRESH_SHARE) end
    for _, e in ipairs { 0, 1, -5, 0.001, 1e-300, "0", 0 / 0 } do
      assert.equal(used(limits.TOKEN_MIN_LIFETIME), refresh_after(e), tostring(e))
    end
    assert.equal(used(limits.TOKEN_MAX_LIFETIME), refresh_after(1e12))
    assert.equal(used(limits.TOKEN_DEFAULT_LIFETIME), refresh_after(nil))
    assert.equal(used(7200), refresh_after("7200"))
  end)

  it("refuses answers that are no token: missing, blank, with blanks, too short to redact", function()
    for _, answer in ipairs { {}, { access_token = "" }, { access_token = 5 }, { access_token = "abc def ghi jkl" },
                              { access_token = "short" } } do
      local a = new { answer }
      local token, err = a:token(script.runtime())
      assert.is_nil(token)
      assert.equal("bad_token_response", err.code)
    end
  end)

  it("hands every token it uses to the redactor", function()
    local rt = script.runtime()
    local a, _, redact = new { { access_token = TOKEN, expires_in = 3600 } }
    a:token(rt)
    assert.equal("x [REDACTED] y", redact:text("x " .. TOKEN .. " y"))
  end)

  it("a failed login is the error; the next call tries again", function()
    local rt = script.runtime()
    local a, logins = new { { err = { code = "invalid_client", message = "no" } }, { access_token = TOKEN, expires_in = 60 } }
    local token, err = a:token(rt)
    assert.is_nil(token)
    assert.equal("invalid_client", err.code)
    assert.equal(TOKEN, a:token(rt))
    assert.equal(2, logins())
  end)

  it("invalidate(token) forgets it, unless a newer one is in use", function()
    local rt = script.runtime()
    local a, logins = new { { access_token = TOKEN .. "1", expires_in = 3600 }, { access_token = TOKEN .. "2", expires_in = 3600 } }
    local t1 = a:token(rt)
    a:invalidate(t1)
    local t2 = a:token(rt)
    assert.equal(TOKEN .. "2", t2)
    a:invalidate(t1) -- a late 401 of the old token: the new one stays
    assert.equal(t2, a:token(rt))
    assert.equal(2, logins())
  end)

  it("a fixed token: never a login, not renewable, redacted", function()
    local redact = redact_mod.new()
    local a = auth_mod.new { access_token = TOKEN, redact = redact }
    assert.equal(TOKEN, a:token(script.runtime()))
    assert.is_false(a:renewable())
    a:invalidate(TOKEN)
    assert.equal(TOKEN, a:token(script.runtime()))
    assert.equal("[REDACTED]", redact:text(TOKEN))
  end)

  describe("concurrent callers (the coroutines of one client)", function()
    -- the login's answer comes from the script's transport, yielding to the other tasks first where the
    -- interpreter can yield across pcall (PUC 5.1 cannot: there the callers run one after another)
    local function login_via(rt, answers)
      return function()
        local _, _, body = rt.request("T", { url = "https://login.test/oauth/token" })
        local a = table.remove(answers, 1)
        if a.err then return nil, a.err end
        return json.decode(body)
      end
    end

    it("make one login and share its token", function()
      local rt = script.runtime()
      rt:answer({ status = 200, json = { access_token = TOKEN, expires_in = 3600 }, yield = script.concurrent })
      local a = new { login_via(rt, { {} }) }
      local order = {}
      local results = rt:run {
        function() order[#order + 1] = "a starts"; local t = a:token(rt); order[#order + 1] = "a has it"; return t end,
        function() order[#order + 1] = "b starts"; local t = a:token(rt); order[#order + 1] = "b has it"; return t end,
      }
      assert.same({ TOKEN, TOKEN }, results)
      assert.equal(1, #rt.requests)
      assert.equal(1, a.logins)
      if script.concurrent then -- b asked while a's login was under way, and waited for it
        assert.same({ "a starts", "b starts", "a has it", "b has it" }, order)
      end
    end)

    it("share a failed login's error: the waiting callers get it, no second login", function()
      local rt = script.runtime()
      rt:answer({ status = 400, json = {}, yield = script.concurrent })
      local a = new { login_via(rt, { { err = { code = "invalid_client", message = "refused" } } }) }
      local results, errs = rt:run {
        function() return a:token(rt) end,
        function() return a:token(rt) end,
      }
      assert.is_nil(results[1])
      assert.equal("invalid_client", errs[1].code)
      if script.concurrent then
        assert.is_nil(results[2])
        assert.equal("invalid_client", errs[2].code)
        assert.equal(1, #rt.requests)
      end
    end)

    it("a caller that waits too long for another's login gets an error", function()
      local rt = script.runtime()
      local ev = rt.event()
      local a = new { function() ev:wait() return { access_token = TOKEN } end }
      if not script.concurrent then return end -- (on 5.1 nothing else can run while a login waits)
      local started = rt.clock
      local results, errs = rt:run {
        function() return a:token(rt) end,
        function()
          local token, err = a:token(rt) -- waits for the first caller's login, which never ends
          ev:post()                      -- (then lets it end)
          return token, err
        end,
      }
      assert.is_nil(results[2])
      assert.equal("login", errs[2].code)
      assert.matches("waited 300 s", errs[2].message)
      assert.equal(300, rt.clock - started)
      assert.equal(TOKEN, results[1])
    end)
  end)

  describe("a login shared by nginx workers through a store", function()
    -- a stand-in of the store of usage.runtime.resty (a lua_shared_dict): get/set/add/delete with ttls on
    -- the script's clock, wait(key, value, timeout) until the key changes, id()
    local function store(rt)
      local data = {}
      local s = { ids = 0 }
      local function live(k)
        local e = data[k]
        if e and e.expires and rt.clock >= e.expires then data[k] = nil end
        return data[k]
      end
      function s:get(k) local e = live(k) return e and e.value end
      function s:set(k, v, ttl) data[k] = { value = v, expires = ttl and ttl > 0 and rt.clock + ttl or nil } return true end
      function s:add(k, v, ttl)
        if live(k) then return nil, "exists" end
        return s:set(k, v, ttl)
      end
      function s:delete(k) data[k] = nil end
      function s:wait(k, v, timeout)
        local deadline = rt.clock + timeout
        while s:get(k) == v and rt.clock < deadline do rt.sleep(0.1) end
      end
      function s:id() self.ids = self.ids + 1 return self.ids end
      return s
    end

    it("one worker logs in, the others read the token; a failure is shared with those that waited", function()
      local rt = script.runtime()
      local st = store(rt)
      local w1, n1 = new({ { access_token = TOKEN, expires_in = 3600 } }, { store = st, key = "c@login" })
      local w2, n2 = new({}, { store = st, key = "c@login" })
      assert.equal(TOKEN, w1:token(rt))
      assert.equal(TOKEN, w2:token(rt))
      assert.equal(1, n1())
      assert.equal(0, n2())
      -- the token renewed by one worker after a 401 reaches the other at once
      local w3 = new({ { access_token = TOKEN .. "new", expires_in = 3600 } }, { store = st, key = "c@login" })
      w3:invalidate(TOKEN)
      assert.equal(TOKEN .. "new", w3:token(rt))
      assert.equal(TOKEN .. "new", w2:token(rt))
      -- a worker waiting on a failed login gets its error
      local st2 = store(rt)
      local failing = new({ { err = { status = 400, code = "invalid_client", message = "refused" } } },
                          { store = st2, key = "d@login" })
      local _, err = failing:token(rt)
      assert.equal("invalid_client", err.code)
      st2:set("usage:d@login:lock", "someone", 5) -- another worker holds the lock, then gives up
      st2:set("usage:d@login:fail", "someone\n" .. json.encode { code = "invalid_client", message = "refused" }, 10)
      local waiter = new({ { access_token = TOKEN, expires_in = 60 } }, { store = st2, key = "d@login" })
      local token, werr = waiter:token(rt)
      assert.is_nil(token)
      assert.equal("invalid_client", werr.code)
      assert.is_true(werr.shared)
    end)
  end)
end)
