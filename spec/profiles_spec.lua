-- usage.profiles: a client from a gc profile for scripts, by the same rules as the command line (the
-- variables over the default profile, a named profile alone), reading the file as the command does (a
-- regular file of bounded size, a warning for one open to others); and the README's example, run against
-- the fake cloud (#integration).

local nginx = require "support.nginx"
local profiles = require "usage.profiles"
local core = require "usage.core"

local SECRET = "Pr0file-S3cret-Value"

local dir
local function path(name) return dir .. "/" .. name end
local function write(name, text, mode)
  nginx.write_file(path(name), text)
  assert(nginx.run("chmod " .. (mode or "600") .. " " .. nginx.sh_quote(path(name))))
  return path(name)
end
-- an environment of our own (nothing of the machine's leaks in)
local function env(vars) return function(name) return vars[name] end end

local FILE = table.concat({
  "[default]",
  "client_credentials = 'default-id'",
  "client_secret = '" .. SECRET .. "'",
  "environment = 'eu-west-1'",
  "[acme]",
  "client_credentials = 'acme-id'",
  "client_secret = 'acme-" .. SECRET .. "'",
  "environment = 'mypurecloud.de'",
  "[token-only]",
  "access_token = 'tok-" .. SECRET .. "'",
  "[short]",
  "client_credentials = 'x'",
  "client_secret = 'abc'",
}, "\n")

describe("usage.profiles", function()
  setup(function()
    local p = io.popen("mktemp -d")
    dir = p:read("*l")
    p:close()
  end)
  teardown(function() nginx.run("rm -rf " .. nginx.sh_quote(dir)) end)

  it("list: the profiles of the file, sorted", function()
    local file = write("config.toml", FILE)
    assert.same({ "acme", "default", "short", "token-only" }, profiles.list { file = file })
    local none, why = profiles.list { file = path("missing.toml") }
    assert.is_nil(none)
    assert.matches("cannot read", why)
    local _, home = profiles.list { getenv = env {} }
    assert.matches("HOME is not set", home)
  end)

  it("resolve: a named profile alone; the default under the variables; the caller's region and base URL win", function()
    local file = write("config.toml", FILE)
    local vars = env { GENESYSCLOUD_OAUTHCLIENT_ID = "var-id", GENESYSCLOUD_REGION = "us-west-2" }
    local acme = assert(profiles.resolve { profile = "acme", file = file, getenv = vars })
    assert.equal("acme-id", acme.client_id)
    assert.equal("mypurecloud.de", acme.environment)
    assert.same({ "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_REGION" }, (function()
      table.sort(acme.ignored) return acme.ignored end)())
    local default = assert(profiles.resolve { file = file, getenv = vars })
    assert.equal("var-id", default.client_id)                -- the variable over the profile
    assert.equal(SECRET, default.client_secret)              -- the profile's where no variable is set
    assert.equal("usw2.pure.cloud", default.environment)
    assert.equal("default", default.profile)
    local given = assert(profiles.resolve { profile = "acme", file = file, getenv = env {}, region = "ap-south-1",
                                            base_url = "http://127.0.0.1:8089" })
    assert.equal("aps1.pure.cloud", given.environment)
    assert.equal("http://127.0.0.1:8089", given.base_url)
    -- secrets listed, never in a message
    local _, why = profiles.resolve { profile = "nope", file = file, getenv = env {} }
    assert.matches("no profile nope", why)
    assert.matches("profiles: acme, default, short, token%-only", why)
    assert.is_nil(why:find(SECRET, 1, true))
  end)

  it("client: a usage client from a profile, the caller's options of usage.new over it", function()
    local file = write("config.toml", FILE)
    local c = assert(profiles.client("acme", { file = file, getenv = env {}, timeout = 3, retry = false }))
    assert.equal("https://api.mypurecloud.de", c.base_url)
    assert.equal(3, c.settings.timeout)
    assert.is_false(c.settings.retry)
    local t = assert(profiles.client("token-only", { file = file, getenv = env {} }))
    assert.equal("tok-" .. SECRET, t.settings.access_token)
    local d = assert(profiles.client(nil, { file = file, getenv = env { GENESYS_USAGE_BASE_URL = "http://127.0.0.1:1" } }))
    assert.equal("http://127.0.0.1:1", d.base_url)
  end)

  it("client: what the file holds is data, an error to return; a wrong option of usage.new raises", function()
    local file = write("config.toml", FILE)
    local c, why = profiles.client("short", { file = file, getenv = env {} })
    assert.is_nil(c)
    assert.matches("too short", why)
    local none, missing = profiles.client(nil, { file = path("missing.toml"), getenv = env {} })
    assert.is_nil(none)
    assert.matches("no credentials", missing)
    local bad_region, r = profiles.client("acme", { file = file, getenv = env {}, region = "mars-1" })
    assert.is_nil(bad_region)
    assert.matches('unknown region "mars%-1"', r)
    assert.has_error(function() profiles.client("acme", { file = file, getenv = env {}, timeout = "3" }) end)
    assert.has_error(function() profiles.client("acme", { file = file, getenv = env {}, no_such = 1 }) end)
    assert.has_error(function() profiles.client(5) end)
  end)

  it("reads only a regular file of bounded size: a FIFO, a directory, a huge file are refused at once", function()
    assert(nginx.run("mkfifo " .. nginx.sh_quote(path("fifo.toml"))))
    local t0 = core.now()
    local _, why = profiles.resolve { profile = "acme", file = path("fifo.toml"), getenv = env {} }
    assert.matches("FIFO", why)
    assert.is_true(core.now() - t0 < 5)
    local _, dwhy = profiles.list { file = dir }
    assert.matches("directory", dwhy)
    write("huge.toml", string.rep("# padding\n", math.floor(profiles.MAX_SIZE / 10) + 1))
    local _, hwhy = profiles.resolve { profile = "acme", file = path("huge.toml"), getenv = env {} }
    assert.matches("larger than", hwhy)
  end)

  it("a file of secrets open to others: a warning, to on_warning too; a private one: none", function()
    local open = write("open.toml", FILE, "644")
    local creds = assert(profiles.resolve { profile = "acme", file = open, getenv = env {} })
    assert.equal(1, #creds.warnings)
    assert.matches("open to everyone %(mode 0644%); protect it with: chmod 600", creds.warnings[1])
    local heard = {}
    assert(profiles.client("acme", { file = open, getenv = env {}, on_warning = function(m) heard[#heard + 1] = m end }))
    assert.equal(1, #heard)
    local group = write("group.toml", FILE, "640")
    assert.matches("open to your group", assert(profiles.resolve { profile = "acme", file = group, getenv = env {} }).warnings[1])
    local private = write("private.toml", FILE, "600")
    assert.same({}, assert(profiles.resolve { profile = "acme", file = private, getenv = env {} }).warnings)
  end)

  it("examples/profile.lua runs against the fake cloud, as the README shows it #integration", function()
    local H = require "helper"
    local fake = H.start()
    finally(function() fake:stop() end)
    assert(nginx.run("mkdir -p " .. nginx.sh_quote(path("home/.gc"))))
    write("home/.gc/config.toml", "[fake]\nclient_credentials = '" .. H.clients.demo.id .. "'\nclient_secret = '" ..
                                  H.clients.demo.secret .. "'\n")
    local interp = jit and "luajit" or "lua5.4"
    local p = io.popen("env -u GENESYSCLOUD_OAUTHCLIENT_ID -u GENESYSCLOUD_OAUTHCLIENT_SECRET HOME=" ..
                       nginx.sh_quote(path("home")) .. " GENESYS_USAGE_BASE_URL=" .. fake.base_url ..
                       " LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/" .. interp .. "/?.so;;' " .. interp ..
                       " examples/profile.lua fake 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    assert.matches("exit=0", out, 1, true)
    assert.matches("profiles: fake", out, 1, true)
    assert.matches("fake: %d+ requests, %d+ rows", out)
  end)
end)
