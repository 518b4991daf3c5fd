-- usage.cli.store, the History store option group (--store PATH|URL) the sync, listing, metrics, report and
-- forecast commands share: the failures of a store end a command with the exit status a monitor can route
-- (75 held by another sync or the server unreachable, 77 no permission to write, 2 a bad target, 1 not a
-- store / newer schema), and a PostgreSQL URL's password never appears in what the command line shows.

local argparse = require "argparse"
local nginx = require "support.nginx"
local support = require "support.store"
local postgres = require "support.postgres"
local cli = require "support.cli"
local store = require "usage.store"
local lock = require "usage.store.lock"
local failure = require "usage.cli.failure"
local term_mod = require "usage.cli.term"
local store_opt = require "usage.cli.store"

local sh_quote = nginx.sh_quote

local function esc(s) return (s:gsub("%p", "%%%0")) end

-- the failure store_opt raised (or nil and the store it returned)
local function try(fn)
  local ok, res = pcall(fn)
  if ok then return nil, res end
  assert.is_true(failure.is(res), "not a failure: " .. tostring(res))
  return res
end

local function parse(argv)
  local p = argparse("prog")
  local cmd = p:command("sync")
  store_opt.add(cmd)
  table.insert(argv, 1, "sync")
  return p:parse(argv), p
end

describe("the History store option group (usage.cli.store)", function()
  local dir
  setup(function() dir = nginx.temp_dir("usage-cli-store") end)
  teardown(function() if dir then nginx.remove_dir(dir) end end)

  it("adds --store PATH|URL under its heading, given once", function()
    local args, p = parse { "--store", dir .. "/a.sqlite3" }
    assert.equal(dir .. "/a.sqlite3", args.store)
    local ok, why = p:pparse { "sync", "--store", "a", "--store", "b" }
    assert.is_false(ok)
    assert.matches("at most 1 time", why, 1, true)
    local help = p._commands[1]:get_help()
    assert.matches("History store:", help, 1, true)
    assert.matches("--store PATH|URL", help, 1, true)
  end)

  it("without --store: nil unless the command requires a store, then the default file", function()
    local args = parse {}
    assert.is_nil(store_opt.open(args, "sync", { readonly = true }))
    -- required: the default file ($XDG_DATA_HOME), which a read cannot find -> a usage error naming sync
    local code = [[
      local ok, f = pcall(require("usage.cli.store").open, { }, "metrics", { readonly = true, required = true })
      print(ok, type(f) == "table" and f.status, type(f) == "table" and f.message)
      local s = require("usage.cli.store").open({ }, "sync", { required = true })
      print(s.where)
    ]]
    local rc, out, err = support.lua(code, { env = { XDG_DATA_HOME = dir .. "/xdg", HOME = dir } })
    assert.equal(0, rc, err)
    assert.matches("false\t2\tthere is no store at " .. dir .. "/xdg/genesys-usage/usage.sqlite3 (genesys-usage " ..
                   "sync --store fills one)", out, 1, true)
    assert.matches("\n" .. dir .. "/xdg/genesys-usage/usage.sqlite3\n", out, 1, true)
  end)

  it("opens a file, and refuses a bad target with exit status 2", function()
    local s = store_opt.open(parse { "--store", dir .. "/ok.sqlite3" }, "sync", {})
    assert.equal("sqlite", s.backend)
    s:close()
    for _, case in ipairs {
      { "http://example.com/x", "a SQLite file %(a path%) or a postgresql:// URL" },
      { "", "path is empty" },
      { "postgresql://u:pw@host:99999/db", "port" },
      { dir .. "/missing-dir/s.sqlite3", "the directory " .. esc(dir) .. "/missing%-dir does not exist" },
      { dir, "is a directory" },
    } do
      local f = try(function() return store_opt.open(parse { "--store", case[1] }, "sync", {}) end)
      assert.is_table(f, case[1])
      assert.equal(2, f.status, case[1] .. ": " .. f.message)
      assert.matches(case[2], f.message)
      assert.matches("sync %-%-help", f.hint)
    end
    -- a missing file read: no store there
    local f = try(function() return store_opt.open(parse { "--store", dir .. "/none.sqlite3" }, "metrics",
                                                   { readonly = true }) end)
    assert.equal(2, f.status)
    assert.matches("there is no store at", f.message)
    assert.is_nil(nginx.read_file(dir .. "/none.sqlite3"))
  end)

  it("a FIFO or a device: exit status 2 at once, never opened (reading a FIFO would wait for ever)", function()
    local fifo = dir .. "/fifo"
    assert(nginx.run("mkfifo " .. sh_quote(fifo)))
    local t = cli.new { base_url = "http://127.0.0.1:9" } -- (nothing is sent: the store is refused first)
    finally(function() t:cleanup() end)
    for _, case in ipairs { { fifo, "a fifo, not a file" }, { "/dev/null", "a character device, not a file" } } do
      for _, cmd in ipairs { { "sync", "--org", "acme" }, { "report", "--last", "7d" },
                             { "forecast", "--licenses", "cx3=1000" }, { "aggregates", "--last", "7d" },
                             { "metrics" } } do
        cmd[#cmd + 1] = "--store"
        cmd[#cmd + 1] = case[1]
        -- (in the background: a regression hangs that process, not the suite)
        local p = t:spawn(cmd)
        local status = p:wait(60)
        if not status then p:stop() end
        local what = table.concat(cmd, " ")
        assert.equal(2, status, what .. ": " .. p:stderr())
        assert.truthy(p:stderr():find(case[2], 1, true), what .. ": " .. p:stderr())
      end
      local s, err = store.open(case[1])
      assert.is_nil(s)
      assert.equal("bad_target", err.code, tostring(err))
    end
  end)

  it("a file that is not a database, and a newer schema: exit status 1, the file unchanged", function()
    local junk = dir .. "/junk.sqlite3"
    nginx.write_file(junk, string.rep("not a database\n", 100))
    local f = try(function() return store_opt.open(parse { "--store", junk }, "sync", {}) end)
    assert.equal(1, f.status)
    assert.matches("not a genesys%-usage store", f.message)
    assert.equal(string.rep("not a database\n", 100), nginx.read_file(junk))
    local newer = dir .. "/newer.sqlite3"
    assert(store.open(newer)):close()
    assert(nginx.run("sqlite3 " .. sh_quote(newer) .. " \"UPDATE store_info SET value = '99' WHERE key = " ..
                     "'schema_version'\""))
    for _, ro in ipairs { false, true } do
      f = try(function() return store_opt.open(parse { "--store", newer }, "report", { readonly = ro }) end)
      assert.equal(1, f.status)
      assert.matches("schema version 99", f.message)
    end
  end)

  it("a store another sync holds: exit status 75, naming the holder", function()
    local path = dir .. "/held.sqlite3"
    local holder = assert(store.open(path))
    assert(holder:reading(function() return lock.acquire(holder, "sync of org acme") end))
    local s = store_opt.open(parse { "--store", path }, "sync", { lock_wait = 0.3 })
    local ok, err = s:put("acme", "2026-01-01", "2026-01-01", {})
    assert.is_nil(ok)
    local f = try(function() store_opt.fail(err, "sync") end)
    assert.equal(75, f.status)
    assert.matches("sync of org acme", f.message, 1, true)
    assert.matches("pid " .. lock.me().pid, f.message, 1, true)
    assert.matches("try again later", f.message, 1, true)
    s:close()
    holder:close()
  end)

  it("a directory or file that cannot be written: exit status 77 (checked as nobody when root)", function()
    local root = nginx.running_as_root()
    local ro = dir .. "/ro"
    assert(nginx.run("chmod 711 " .. sh_quote(dir) .. " && mkdir -p " .. sh_quote(ro) ..
                     (root and (" && chown nobody " .. sh_quote(ro)) or "") .. " && chmod 555 " .. sh_quote(ro)))
    local code = [[
      local store_opt = require "usage.cli.store"
      local ok, f = pcall(store_opt.open, { store = ]] .. string.format("%q", ro .. "/new.sqlite3") .. [[ }, "sync", {})
      print("NEW", ok, type(f) == "table" and f.status, type(f) == "table" and f.message)
      local s = store_opt.open({ store = ]] .. string.format("%q", ro .. "/old.sqlite3") .. [[ }, "report",
                               { readonly = true })
      local pok, perr = s:put("acme", "2026-01-01", "2026-01-01", {})
      local ok2, f2 = pcall(store_opt.fail, perr, "sync")
      print("PUT", f2.status, f2.message)
    ]]
    assert(nginx.run("chmod 755 " .. sh_quote(ro)))
    assert(store.open(ro .. "/old.sqlite3")):close()
    assert(nginx.run("chmod 555 " .. sh_quote(ro) .. " && chmod 644 " .. sh_quote(ro .. "/old.sqlite3")))
    local rc, out, err = support.lua(code, { user = root and "nobody" or nil })
    assert.equal(0, rc, err)
    assert.matches("NEW\tfalse\t77\tstore: cannot open " .. esc(ro) .. "/new.sqlite3", out)
    assert.matches("PUT\t77\tstore: the store .* was opened read%-only", out)
    assert(nginx.run("chmod 755 " .. sh_quote(ro)))
  end)

  describe("a PostgreSQL URL's password", function()
    local pg
    setup(function() pg = postgres.start() end)
    teardown(function() if pg then pg:stop() end end)

    local PASSWORD = "Sw0rdf1sh!%40x"   -- as written in the URL (percent-encoded '@')
    local PLAIN = "Sw0rdf1sh!@x"

    local function no_password(s)
      assert.is_nil(s:find(PASSWORD, 1, true), s)
      assert.is_nil(s:find(PLAIN, 1, true), s)
      assert.is_nil(s:find("Sw0rdf1sh", 1, true), s)
    end

    it("is never shown: a wrong one, the server unreachable (75); the term redacts it", function()
      pg:role("keeper", PLAIN)
      local base = pg:database("pwdb")
      pg:psql("pwdb", "ALTER DATABASE pwdb OWNER TO keeper; ALTER SCHEMA public OWNER TO keeper")
      local url = base:gsub("postgres@", "keeper:" .. PASSWORD:gsub("%%", "%%%%") .. "@")
      local s = store_opt.open(parse { "--store", url }, "sync", {})
      no_password(s.where)
      no_password(tostring(s))
      s:close()
      -- a wrong password: the role's password is not the one given
      local wrong = url:gsub("Sw0rdf1sh", "Xw0rdf1sh")
      local f = try(function() return store_opt.open(parse { "--store", wrong }, "sync", {}) end)
      -- (LuaDBI 0.7 reports a refused password as "no connection to the server": a passing failure)
      assert.equal(75, f.status, f.message)
      assert.is_nil(f.message:find("Xw0rdf1sh", 1, true), f.message)
      -- nothing listens there
      local port = nginx.pick_port()
      local gone = "postgresql://keeper:" .. PASSWORD .. "@127.0.0.1:" .. port .. "/pwdb"
      f = try(function() return store_opt.open(parse { "--store", gone }, "sync", {}) end)
      assert.equal(75, f.status, f.message)
      no_password(f.message)
      assert.matches("postgresql://keeper@127.0.0.1:" .. port .. "/pwdb", f.message, 1, true)
      -- a bad URL with a password: the message does not echo it
      f = try(function() return store_opt.open(parse { "--store", "postgresql://keeper:" .. PASSWORD ..
                                                       "@h/db?sslmod=x" }, "sync", {}) end)
      assert.equal(2, f.status)
      no_password(f.message)
      -- a role that may not create the store's tables: 77
      pg:role("reader")
      local rodb = pg:database("rodb")
      pg:psql("rodb", "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
      f = try(function() return store_opt.open(parse { "--store", (rodb:gsub("postgres@", "reader@")) }, "sync", {}) end)
      assert.equal(77, f.status, f.message)
      assert.matches("permission denied", f.message, 1, true)
      -- the terminal given to open knows the password in each form
      local t = term_mod.new { progress = false }
      store_opt.open(parse { "--store", url }, "sync", { term = t }):close()
      no_password(t:clean("echo " .. url .. " " .. PLAIN))
    end)
  end)
end)
