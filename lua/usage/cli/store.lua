-- usage.cli.store: the history store a command reads or writes (usage.store), as an option group:
--   store_opt.add(cmd [, { org = true }])      -- the History store group: --store PATH|URL (org: and --org
--                                               -- LABEL, the org of the store a command reads)
--   local s = store_opt.open(args, command, { readonly = true|false, required = false|true, term = t,
--                                              lock_wait = seconds (a sync's wait for another, default 30),
--                                              absent = true|false })
--       -- nil when --store was not given and the command does not require a store; required: the default
--       -- file ($XDG_DATA_HOME/genesys-usage/usage.sqlite3) when --store is absent. Otherwise an open
--       -- usage.store, or a raised usage.cli.failure (store_opt.fail) with the exit status below. absent
--       -- (with readonly: sync --dry-run): a store that does not exist yet (no file, an empty database) is
--       -- false, where (the file, or the URL without its password) instead of a failure.
--   store_opt.fail(err, command [, context])  -- raise the failure of a store's error (open, sync, read)
-- Exit statuses (usage.cli.failure's):
--   75  the store is held by another sync (locked), another program locks the file (busy), the sync lock
--       was lost, the PostgreSQL server cannot be reached or the connection was lost (LuaDBI 0.7 reports a
--       refused password so too): try again later
--   77  a store that cannot be written where writing is needed (a read-only file or directory, a file that
--       cannot be created in its directory, a role without the right; "password authentication failed")
--   2   a bad target (not a path nor a postgresql:// URL, a directory that does not exist, no store there
--       to read)
--   1   anything else: not a store, a newer schema, a corrupt file, a full disk, ...
-- The password of a postgresql:// URL never leaves: the store redacts its own messages, and with opts.term
-- it is a secret of the terminal too (give the term after usage.cli.connection.client made the client:
-- that replaces the terminal's redactor).

local store = require "usage.store"
local target = require "usage.store.target"
local redact = require "usage.base.redact"
local failure = require "usage.cli.failure"
local NAME = require("usage.cli.program").NAME

local M = {}

local EX_TEMPFAIL, EX_NOPERM = 75, 77

-- add(cmd [, { org = true, required = true }]): the History store group; org: --org LABEL too (the org of
-- the store to read); required: the command always uses a store (sync), the default file when --store is absent
function M.add(cmd, opts)
  local default = opts and opts.required and
    ("; default file: $XDG_DATA_HOME/" .. NAME .. "/" .. target.FILE_NAME) or
    "; without it the command asks the API"
  local list = {
    cmd:option("--store", "the history store (genesys-usage sync fills it): a SQLite file, or a " ..
                          "postgresql://user[:password]@host[:port]/db URL (?host=/socket/dir for a socket; the " ..
                          "password is never shown)" .. default)
       :argname("PATH|URL"):overwrite(false),
  }
  if opts and opts.org then
    list[2] = cmd:option("--org", "with --store: the org of the store to read (its label: the profile's name " ..
                                  "or sync's --org); default: the store's only org")
                 :argname("LABEL"):overwrite(false)
  end
  cmd:group("History store", (table.unpack or unpack)(list)) -- luacheck: ignore (unpack: Lua 5.1 / LuaJIT)
end

-- the exit status of each code of usage.store's errors (those not here: 1)
local STATUS = {
  locked = EX_TEMPFAIL, busy = EX_TEMPFAIL, lost_lock = EX_TEMPFAIL, connection = EX_TEMPFAIL,
  connect = EX_TEMPFAIL,
  readonly = EX_NOPERM, permission = EX_NOPERM, auth = EX_NOPERM,
  bad_target = 2,
}

local function parent_dir(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir == nil then return "." end
  if dir == "" then return "/" end
  return dir
end

local function is_dir(path)
  local ok = os.rename(path, path) -- (true for an existing file or directory, whatever its rights)
  if not ok then return false end
  local fh = io.open(path .. "/.", "rb")
  if fh then fh:close() return true end
  return false
end

-- fail(err, command [, context]): raise the failure of a usage.store error (never returns)
function M.fail(err, command, context)
  if type(err) ~= "table" then failure.runtime("error: " .. tostring(err)) end
  local code = err.code
  if code == "interrupted" then failure.signal(err.signal) end
  local message = tostring(err.message or err):gsub("^usage: ", "")
  if context then message = context .. ": " .. message end
  local status = STATUS[code]
  if status == 2 then failure.usage("--store: " .. message, command) end
  if code == "no_store" then
    failure.usage(message .. " (" .. NAME .. " sync --store fills one)", command)
  end
  if status == nil and (code == "cantopen" or code == "io") and err.store and is_dir(err.store) then
    failure.usage("--store: " .. err.store .. " is a directory: name a file in it", command)
  end
  if status == nil and code == "cantopen" and err.store then
    -- SQLite could not open (create) the file: a directory that is missing is a bad target, one that
    -- cannot be written a lack of permission
    local dir = parent_dir(err.store)
    if not is_dir(dir) then failure.usage("--store: the directory " .. dir .. " does not exist", command) end
    status = EX_NOPERM
  end
  if status == nil and not err.store then -- not the store's: the service's or the network's (usage.cli.failure)
    status = failure.status_of(err)
    failure.runtime("error: " .. message, status)
  end
  failure.runtime("store: " .. message .. (status == EX_TEMPFAIL and " (try again later)" or ""), status or 1)
end

-- the password of a URL in every form it may be shown in (nil: none)
local function secrets_of(value)
  if not value or not value:match("^postgres") then return nil end
  local t = target.parse_url(value)
  if not t or not t.password then return nil end
  local out = {}
  for _, s in ipairs(redact.forms(t.password)) do out[#out + 1] = s end
  local raw = value:match("^[^/]*//[^@/?]*:([^@/?]*)@") or value:match("[?&]password=([^&]*)")
  if raw then out[#out + 1] = raw end
  return out
end

-- open(args, command, opts) -> usage.store | nil (see the top of this file)
function M.open(args, command, opts)
  opts = opts or {}
  local value = args.store
  if value == nil and not opts.required then return nil end
  if opts.term then
    for _, s in ipairs(secrets_of(value) or {}) do opts.term:secret(s) end
  end
  if value ~= nil then
    local backend, why = target.classify(value)
    if not backend then failure.usage("--store: " .. why, command) end
  end
  local s, err = store.open(value, { readonly = opts.readonly and true or false, lock_wait = opts.lock_wait })
  if not s and opts.absent and type(err) == "table" and
     (err.code == "no_store" or (err.code == "not_a_store" and err.empty)) then
    return false, err.store
  end
  if not s then M.fail(err, command) end
  return s
end

return M
