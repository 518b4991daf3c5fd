-- usage.cli.credentials: where the command line's credentials, region and base URL come from.
--   1. the GENESYSCLOUD_* variables (the names the gc CLI and the Terraform provider read), each
--      overriding the same setting of
--   2. a profile of the gc CLI's file ~/.gc/config.toml (--profile NAME, default "default"): keys
--      client_credentials (the OAuth client id), client_secret, environment (a region such as eu-west-1
--      or a domain such as mypurecloud.ie) and access_token.
-- An explicit --profile NAME wins over the variables: that profile alone gives the credentials and the
-- region, and the GENESYSCLOUD_* variables are not read (creds.ignored lists those that are set), so
-- that a loop over profiles never queries one organization several times. (The gc CLI lets the
-- variables override even an explicit --profile.)
-- A given access token (variable) wins; then client credentials (id and secret, each from the variable or
-- the profile); then a token of the profile. --region and --base-url (or GENESYS_USAGE_BASE_URL) win
-- over both. A profile asked for by name must exist; the secret is never printed.
-- The profile file is read only if it is a regular file of at most toml.MAX_SIZE bytes (a FIFO, a device,
-- a directory or a huge file is refused at once, never waited on or read whole: core.read_file); a file
-- that holds a secret (client_secret, access_token) and that others can read, or that someone else owns,
-- gives a warning (creds.warnings), as ssh does for its keys. A trapped signal while reading it ends the
-- command with the signal's exit status (usage.cli.failure), never as if there were no profile.
--   local creds, err = credentials.resolve { profile =, region =, base_url = }  -> creds | nil, message

local core = require "usage.core"
local regions = require "usage.api.regions"
local toml = require "usage.cli.toml"

local M = {}

M.VARS = {
  client_id = "GENESYSCLOUD_OAUTHCLIENT_ID", client_secret = "GENESYSCLOUD_OAUTHCLIENT_SECRET",
  region = "GENESYSCLOUD_REGION", access_token = "GENESYSCLOUD_ACCESS_TOKEN",
}
M.BASE_URL_VAR = "GENESYS_USAGE_BASE_URL"
M.DEFAULT_PROFILE = "default"
-- the profile keys of the gc CLI and the settings they give
M.PROFILE_KEYS = { client_id = "client_credentials", client_secret = "client_secret", region = "environment",
                   access_token = "access_token" }

M.getenv = os.getenv -- (specs replace it)

local function env(name)
  local v = M.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

function M.profile_file()
  local home = env("HOME")
  return home and (home .. "/.gc/config.toml") or nil
end

local KINDS = { directory = "a directory", fifo = "a FIFO (named pipe)", char = "a character device",
                block = "a block device", socket = "a socket", other = "not a regular file" }

-- does the file hold a secret (in any of its profiles)?
local function holds_secret(doc)
  for _, t in pairs(doc) do
    if type(t) == "table" and ((type(t.client_secret) == "string" and t.client_secret ~= "") or
                               (type(t.access_token) == "string" and t.access_token ~= "")) then
      return true
    end
  end
  return false
end

-- the warning ssh-style tools give for a file of secrets others can read (or someone else owns), or nil
function M.permission_warning(path, info)
  local mode = info.mode % 512 -- the permission bits
  if mode % 64 ~= 0 then
    local who = (mode % 8 ~= 0) and "everyone" or "your group"
    return string.format("warning: %s holds a secret and is open to %s (mode %04o); protect it with: chmod 600 %s",
                         path, who, mode, path)
  end
  if not info.mine and info.owner ~= 0 then
    return string.format("warning: %s holds a secret and belongs to another user (uid %d); it should be yours, " ..
                         "mode 600", path, info.owner)
  end
  return nil
end

-- load_profile(name, explicit) -> profile table | nil (no file, or no such profile when not asked for)
-- | nil, message; and the permission warning, if any
local function load_profile(name, explicit)
  local path = M.profile_file()
  if not path then
    if explicit then return nil, "no profile " .. name .. ": cannot read ~/.gc/config.toml (HOME is not set)" end
    return nil
  end
  local text, info, reason = core.read_file(path, toml.MAX_SIZE)
  if not text then
    if reason == "interrupted" then require("usage.cli.failure").check() end -- (raises: the signal's status)
    if reason == "missing" and not explicit then return nil end
    if reason == "missing" then return nil, "no profile " .. name .. ": cannot read " .. path .. ": " .. info end
    if reason == "not_file" then
      return nil, string.format("cannot read %s: it is %s, not a file", path, KINDS[info] or info)
    end
    if reason == "too_large" then return nil, path .. ": larger than " .. toml.MAX_SIZE .. " bytes" end
    return nil, "cannot read " .. path .. ": " .. tostring(info)
  end
  local doc, err = toml.parse(text)
  if not doc then return nil, path .. ": " .. err end
  local warning = holds_secret(doc) and M.permission_warning(path, info) or nil
  local profile = doc[name]
  if not profile then
    if not explicit then return nil, nil, warning end
    local names = {}
    for k in pairs(doc) do
      if k ~= "" then names[#names + 1] = k end
    end
    table.sort(names)
    return nil, string.format("no profile %s in %s (%s)", name, path,
                              #names > 0 and ("profiles: " .. table.concat(names, ", ")) or "it has none")
  end
  for setting, key in pairs(M.PROFILE_KEYS) do
    local v = profile[key]
    if v ~= nil and type(v) ~= "string" then
      return nil, string.format("profile %s in %s: %s is not a string", name, path, key)
    end
    if v == "" then profile[key] = nil end
    if setting then profile[setting] = profile[key] end
  end
  profile.path = path
  return profile, nil, warning
end

-- environment(text) -> the environment of a region key, region name or domain | nil
local function environment_of(v)
  local known = regions.resolve(v)
  if known then return known end
  if v:find(".", 1, true) and v:match("^[%w%.%-]+$") and not v:find("..", 1, true) then return v:lower() end
  return nil
end

-- check_base_url(url, from) -> true | nil, message: the checks of usage.new, in the words of the command line
function M.check_base_url(url, from)
  local u, why = core.parse_url(url)
  if not u then return nil, string.format("%s: %q is not an absolute http(s) URL (%s)", from, url, tostring(why)) end
  if u.user or u.password then
    return nil, from .. ": the URL must not carry user:password@ (the tool logs in with the OAuth client)"
  end
  if u.query or u.fragment then return nil, from .. ": the URL must not have a query or a fragment" end
  if u.scheme == "http" and not u.loopback then
    return nil, string.format("%s: plain http to %s would send the credentials unencrypted; use https, or an " ..
                              "http:// address on this machine (127.0.0.1, ::1, localhost) such as a tunnel", from,
                              tostring(u.host))
  end
  return true
end

-- resolve(options) -> creds | nil, message. options: profile (name or nil), region, base_url (flags).
-- creds: { access_token | client_id + client_secret, environment, base_url, from (where they came
-- from, for --dry-run), secrets = { ... } (what must never be printed), missing = message or nil,
-- ignored = { names of the GENESYSCLOUD_* variables set but not read, with an explicit --profile } }
function M.resolve(options)
  local name = options.profile or M.DEFAULT_PROFILE
  local profile, perr, warning = load_profile(name, options.profile ~= nil)
  if perr then return nil, perr end
  profile = profile or {}
  local explicit = options.profile ~= nil
  local creds = { secrets = {}, ignored = {} }
  local function var(key) -- a GENESYSCLOUD_* variable, unless an explicit --profile wins over them
    local v = env(M.VARS[key])
    if v and explicit then
      creds.ignored[#creds.ignored + 1] = M.VARS[key]
      if key == "access_token" or key == "client_secret" then -- (not used, and still never printed)
        creds.secrets[#creds.secrets + 1] = v
      end
      return nil
    end
    return v
  end
  local vars = {}
  for _, key in ipairs { "access_token", "client_id", "client_secret", "region" } do vars[key] = var(key) end
  local function setting(key)
    local v = vars[key]
    if v then return v, M.VARS[key] end
    if profile[key] then return profile[key], "profile " .. name end
    return nil
  end
  creds.warnings = { warning }
  local token, token_from = vars.access_token, M.VARS.access_token
  local id, id_from = setting("client_id")
  local secret = setting("client_secret")
  if not token and not (id and secret) and profile.access_token then
    token, token_from = profile.access_token, "profile " .. name
  end
  if token then
    creds.access_token, creds.from = token, token_from
    creds.secrets[#creds.secrets + 1] = token
  elseif id and secret then
    creds.client_id, creds.client_secret, creds.from = id, secret, id_from
    creds.secrets[#creds.secrets + 1] = secret
    creds.secrets[#creds.secrets + 1] = core.base64(id .. ":" .. secret)
  elseif explicit then
    local lacks = (id and "client_secret") or (secret and "client_credentials") or
                  "client_credentials and client_secret (nor access_token)"
    creds.missing = "no credentials: profile " .. name .. " in " .. tostring(profile.path) .. " has no " .. lacks ..
                    " (with --profile, the GENESYSCLOUD_* variables are not read)"
  else
    local missing = (id and M.VARS.client_secret) or (secret and M.VARS.client_id) or
                    (M.VARS.client_id .. " and " .. M.VARS.client_secret)
    creds.missing = "no credentials: set " .. missing .. " (or " .. M.VARS.access_token .. "), or give " ..
                    "--profile NAME of the gc CLI's ~/.gc/config.toml" ..
                    (profile.path and (" (profile " .. name .. " has no client_credentials and client_secret)") or "")
  end
  local region, region_from = options.region, "--region"
  if not region then region, region_from = setting("region") end
  if region then
    creds.environment = environment_of(region)
    if not creds.environment then
      local keys = {}
      for k in pairs(regions.by_key) do keys[#keys + 1] = k end
      table.sort(keys)
      return nil, string.format("unknown region %q (%s); known: %s", region, region_from, table.concat(keys, ", "))
    end
  end
  local base, base_from = options.base_url, "--base-url"
  if not base then base, base_from = env(M.BASE_URL_VAR), M.BASE_URL_VAR end
  if base then
    local ok, why = M.check_base_url(base, base_from)
    if not ok then return nil, why end
    creds.base_url = base
  end
  creds.profile = profile.path and name or nil
  return creds
end

-- profiles() -> the names of the profiles of the gc CLI's file, sorted | nil, message (no HOME, no file, a
-- file that cannot be read or parsed, a file without profiles)
function M.profiles()
  local path = M.profile_file()
  if not path then return nil, "HOME is not set: no ~/.gc/config.toml to read the profiles from" end
  local fh = io.open(path, "rb")
  if not fh then return nil, "cannot read " .. path .. " (the gc CLI's profiles)" end
  local text, why = fh:read(toml.MAX_SIZE + 1)
  fh:close()
  if not text and why then return nil, "cannot read " .. path .. ": " .. tostring(why) end
  local doc, err = toml.parse(text or "")
  if not doc then return nil, path .. ": " .. err end
  local names = {}
  for k, v in pairs(doc) do
    if k ~= "" and type(v) == "table" then names[#names + 1] = k end
  end
  table.sort(names)
  if #names == 0 then return nil, path .. " has no profile" end
  return names
end

-- resolve_many(options) -> { { profile = name, creds = creds }, ... } | nil, message: the credentials of
-- several profiles, each resolved as resolve does for an explicit --profile (the GENESYSCLOUD_* variables
-- are not read). options: profiles (an array of names) or all = true (every profile of the file, sorted),
-- region, base_url.
function M.resolve_many(options)
  local names = options.profiles
  if options.all then
    local why
    names, why = M.profiles()
    if not names then return nil, why end
  end
  if type(names) ~= "table" or #names == 0 then return nil, "no profile given" end
  local out, seen = {}, {}
  for i, name in ipairs(names) do
    if seen[name] then return nil, "profile " .. name .. " is given twice" end
    seen[name] = true
    local creds, why = M.resolve { profile = name, region = options.region, base_url = options.base_url }
    if not creds then return nil, why end
    out[i] = { profile = name, creds = creds }
  end
  return out
end

return M
