-- genesys-usage reads the gc CLI's profiles (~/.gc/config.toml) through a small, strict TOML reader
-- (issue #14): the reader against hostile files, then profiles as admins have them, the GENESYSCLOUD_*
-- variables over them, and a secret that is never printed.

local nginx = require "support.nginx"
local support = require "support.cli"
local toml = require "usage.profiles.toml"

local SECRET = "Pr0file-S3cret-Value"

describe("the TOML reader", function()
  it("reads what the gc CLI writes: indented keys, both kinds of strings, booleans, comments, CRLF, a BOM", function()
    local doc = assert(toml.parse(table.concat({
      "\239\187\191# gc profiles",
      "[default]",
      "  client_credentials = 'abc-123'",
      '  client_secret = "s\\"e\\\\c\\u00e9\\U0001F600"   # trailing comment',
      "  environment = 'mypurecloud.ie'",
      "  logging_enabled = false",
      "  oauth_token_data = '{\"access_token\":\"x\"}'",
      "",
      '["acme corp"]',
      "client_credentials=\"id2\"",
      "proxy_port = 8080",
      "empty = ''",
    }, "\r\n")))
    assert.equal("abc-123", doc.default.client_credentials)
    assert.equal('s"e\\cé😀', doc.default.client_secret)
    assert.equal("mypurecloud.ie", doc.default.environment)
    assert.is_false(doc.default.logging_enabled)
    assert.equal('{"access_token":"x"}', doc.default.oauth_token_data)
    assert.equal("id2", doc["acme corp"].client_credentials)
    assert.equal(8080, doc["acme corp"].proxy_port)
    assert.equal("", doc["acme corp"].empty)
  end)

  local hostile = {
    { "[a]\nk = 1\nk = 2", "line 3", "given twice" },
    { "[a]\n[a]", "line 2", "given twice" },
    { "[a]\nk = [1, 2]", "line 2", "arrays" },
    { "[a]\nk = { x = 1 }", "line 2", "inline tables" },
    { "[a]\nx.y = 1", "line 2", "dotted keys" },
    { "[a.b]", "line 1", "dotted table" },
    { "[[a]]", "line 1", "arrays of tables" },
    { '[a]\nk = """\n' .. SECRET .. '\n"""', "line 2", "multi-line" },
    { '[a]\nclient_secret = "' .. SECRET, "line 2", "not closed" },
    { "[a]\nclient_secret = '" .. SECRET, "line 2", "not closed" },
    { '[a]\nk = "bad \\q escape ' .. SECRET .. '"', "line 2", "unknown escape" },
    { '[a]\nk = "\\uD800"', "line 2", "\\u escape" },
    { '[a]\nk = "\\u12"', "line 2", "\\u escape" },
    { "[a]\nk = 1.5", "line 2", "expected a string" },
    { "[a]\nk = 2026-01-01", "line 2", "expected a string" },
    { "[a]\nk = 0123", "line 2", "expected a string" },
    { "[a]\nk = 99999999999999999999", "line 2", "expected a string" },
    { "[a]\nk = yes", "line 2", "expected a string" },
    { "[a]\nk =", "line 2", "no value" },
    { "[a]\nk", "line 2", "expected =" },
    { "[a]\n= 1", "line 2", "expected a name" },
    { "[a]\nk = 'x' y", "line 2", "after the value" },
    { "[a", "line 1", "expected ]" },
    { "[]", "line 1", "expected a name" },
    { '[""]', "line 1", "empty table name" },
    { "[a] x", "line 1", "expected ]" },
    { "[a]\nk = 'a\0b'", "line 2", "control character" },
    { "[a]\nk = 'x\27[31m'", "line 2", "control character" },
    { "[a]\nk = 'x'\rj = 1", "line 2", "control character" },
    { "[a]\nk = '\255\254'", nil, "not UTF-8" },
    { "[a]\nk = '\192\175'", nil, "not UTF-8" },
    { string.rep("#", toml.MAX_SIZE + 1), nil, "larger than" },
  }
  for _, case in ipairs(hostile) do
    it("refuses " .. case[3] .. (case[2] and (" (" .. case[2] .. ")") or "") .. ", without quoting the file", function()
      local doc, err = toml.parse(case[1])
      assert.is_nil(doc)
      assert.truthy(err:find(case[3], 1, true), err)
      if case[2] then assert.equal(case[2] .. ":", err:match("^line %d+:")) end
      assert.is_nil(err:find(SECRET, 1, true))
      assert.is_true(#err < 120)
    end)
  end

  it("survives random bytes (never raises)", function()
    math.randomseed(7)
    local alphabet = "[]='\"\\#.{}, \n\t\r\0\127abcdeu0123456789\195\169\255"
    for _ = 1, 3000 do
      local n = math.random(0, 40)
      local b = {}
      for i = 1, n do
        local k = math.random(1, #alphabet)
        b[i] = alphabet:sub(k, k)
      end
      local okp, doc, err = pcall(toml.parse, table.concat(b))
      assert.is_true(okp, tostring(doc))
      assert.is_true(doc ~= nil or type(err) == "string")
    end
  end)
end)

describe("genesys-usage --profile #integration", function()
  local fake, t

  local fixture = support.with_fake()
  lazy_setup(function()
    fake, t = fixture.start()
    assert(nginx.run("mkdir -p " .. nginx.sh_quote(t:path(".gc"))))
  end)
  lazy_teardown(fixture.stop)

  local function profile_file(text) nginx.write_file(t:path(".gc/config.toml"), text) end

  -- a run with credentials from the profile file only (the variables unset unless env says)
  local function run(args, env)
    local e = { GENESYSCLOUD_OAUTHCLIENT_ID = false, GENESYSCLOUD_OAUTHCLIENT_SECRET = false }
    for k, v in pairs(env or {}) do e[k] = v end
    return t:run(args, { env = e })
  end

  local GOOD = table.concat({
    "[default]",
    "  client_credentials = 'demo-client'",
    "  client_secret = 'demo-secret'",
    "  environment = 'eu-west-1'",
    "[acme]",
    "  client_credentials = 'search-viewer'",
    "  client_secret = 'search-viewer-secret'",
    "  environment = 'mypurecloud.jp'",
    "[withtoken]",
    "  access_token = '" .. SECRET .. "'",
    "[nosecret]",
    "  client_credentials = 'demo-client'",
  }, "\n") .. "\n"

  it("uses the default profile, or the one named, with its region", function()
    profile_file(GOOD)
    local r = run { "aggregates", "--last", "2d", "--format", "csv", "--quiet" }
    assert.equal(0, r.code, support.show(r))
    local d = run({ "aggregates", "--last", "2d", "--dry-run" }, { GENESYS_USAGE_BASE_URL = false })
    assert.truthy(d.out:find("# API: https://api.mypurecloud.ie", 1, true), d.out)
    assert.truthy(d.out:find("OAuth client demo-client (profile default", 1, true), d.out)
    local a = run({ "aggregates", "--last", "2d", "--dry-run", "--profile", "acme" }, { GENESYS_USAGE_BASE_URL = false })
    assert.truthy(a.out:find("# API: https://api.mypurecloud.jp", 1, true), a.out)
    assert.truthy(a.out:find("OAuth client search-viewer (profile acme", 1, true), a.out)
    local q = run { "aggregates", "--last", "2d", "--profile", "acme" } -- search-viewer may only search
    assert.equal(77, q.code, support.show(q))
    assert.truthy(q.err:find("HTTP 403", 1, true), q.err)
    assert.equal(0, run({ "search", "--last", "2d", "--profile", "acme", "--quiet" }).code)
  end)

  it("lets the GENESYSCLOUD_* variables override the file, one by one", function()
    profile_file(GOOD)
    local r = run({ "aggregates", "--last", "2d", "--quiet" }, { GENESYSCLOUD_OAUTHCLIENT_SECRET = "wrong-secret" })
    assert.equal(77, r.code, support.show(r)) -- the variable's secret was used
    local id = run({ "aggregates", "--last", "2d", "--dry-run" }, { GENESYSCLOUD_OAUTHCLIENT_ID = "someone-else" })
    assert.truthy(id.out:find("OAuth client someone-else (GENESYSCLOUD_OAUTHCLIENT_ID", 1, true), id.out)
    local region = run({ "aggregates", "--last", "2d", "--dry-run" },
                       { GENESYSCLOUD_REGION = "ap-southeast-2", GENESYS_USAGE_BASE_URL = false })
    assert.truthy(region.out:find("https://api.mypurecloud.com.au", 1, true), region.out)
    local token = run({ "aggregates", "--last", "2d", "--dry-run" }, { GENESYSCLOUD_ACCESS_TOKEN = "t-123" })
    assert.truthy(token.out:find("an access token (GENESYSCLOUD_ACCESS_TOKEN)", 1, true), token.out)
    local ft = run { "aggregates", "--last", "2d", "--dry-run", "--profile", "withtoken" }
    assert.truthy(ft.out:find("an access token (profile withtoken)", 1, true), ft.out)
  end)

  it("exits 2 naming a missing profile, an incomplete one, or a broken file, and never prints the secret", function()
    profile_file(GOOD)
    local m = run { "aggregates", "--last", "2d", "--profile", "nope" }
    assert.equal(2, m.code)
    assert.truthy(support.one_line(m.err), m.err)
    assert.truthy(m.err:find("no profile nope", 1, true) and m.err:find("acme, default", 1, true), m.err)
    local n = run { "aggregates", "--last", "2d", "--profile", "nosecret" }
    assert.equal(2, n.code)
    assert.truthy(n.err:find("profile nosecret in .* has no client_secret"), n.err)
    profile_file("[default]\nclient_credentials = 'demo-client'\nclient_secret = \"" .. SECRET .. "\n")
    local b = run { "aggregates", "--last", "2d" }
    assert.equal(2, b.code)
    assert.truthy(b.err:find("config.toml: line 3: a string is not closed", 1, true), b.err)
    assert.is_nil(b.err:find(SECRET, 1, true))
    profile_file("[default]\nclient_credentials = true\n")
    local typed = run { "aggregates", "--last", "2d" }
    assert.equal(2, typed.code)
    assert.truthy(typed.err:find("client_credentials is not a string", 1, true), typed.err)
    profile_file("[default]\nenvironment = 'mars-1'\nclient_credentials = 'a'\nclient_secret = 'b'\n")
    local region = run { "aggregates", "--last", "2d" }
    assert.equal(2, region.code)
    assert.truthy(region.err:find('unknown region "mars-1"', 1, true), region.err)
    -- no file: the variables alone, and a profile asked for by name is an error
    os.remove(t:path(".gc/config.toml"))
    assert.equal(0, t:run({ "aggregates", "--last", "2d", "--quiet" }).code)
    local none = t:run { "aggregates", "--last", "2d", "--profile", "acme" }
    assert.equal(2, none.code)
    assert.truthy(none.err:find("no profile acme", 1, true), none.err)
  end)

  it("keeps the profile's secret and token out of stderr and stdout, --verbose included", function()
    profile_file("[default]\nclient_credentials = 'demo-client'\nclient_secret = 'demo-secret'\n[t]\naccess_token = '" ..
                 SECRET .. "'\n")
    for _, args in ipairs {
      { "aggregates", "--last", "2d", "--verbose", "--format", "csv" },
      { "aggregates", "--last", "2d", "--dry-run" },
      { "aggregates", "--last", "2d", "--verbose", "--profile", "t" }, -- a token the fake refuses
      { "aggregates", "--last", "2d", "--dry-run", "--profile", "t" },
    } do
      local r = run(args)
      for _, s in ipairs { r.out, r.err } do
        assert.is_nil(s:find("demo-secret", 1, true), support.show(r))
        assert.is_nil(s:find(SECRET, 1, true), support.show(r))
      end
    end
  end)
end)
