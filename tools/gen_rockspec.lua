-- Writes genesys-usage-<version>-1.rockspec from genesys-usage-scm-1.rockspec for the module's version
-- (usage._VERSION): the same rockspec with version "<version>-1" and its source pinned to the tag
-- v<version>. Versioned rockspecs of other versions are removed (a release lives on in its tag and
-- on the rocks server). Run from the repository root after `make build`: `make rockspec` does both.
--   --check   write and remove nothing; print what is out of date and exit 1 if anything is
local check = arg and arg[1] == "--check"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local function replace_once(text, pattern, replacement, what)
  local out, n = text:gsub(pattern, function(...) return replacement(...) end)
  assert(n == 1, "genesys-usage-scm-1.rockspec: expected one " .. what .. ", found " .. n)
  return out
end

local version = require("usage")._VERSION
assert(version:match("^%d+%.%d+%.%d+$"), "usage._VERSION is not MAJOR.MINOR.PATCH: " .. version)
local name = "genesys-usage-" .. version .. "-1.rockspec"

local text = read("genesys-usage-scm-1.rockspec")
text = replace_once(text, "^%-%-[^\n]*\n%-%-[^\n]*\n", function()
  return "-- Written by tools/gen_rockspec.lua (`make rockspec`) from genesys-usage-scm-1.rockspec: edit that one.\n"
end, "two-line header comment")
text = replace_once(text, '\nversion = "scm%-1"\n', function()
  return '\nversion = "' .. version .. '-1"\n'
end, 'version = "scm-1" line')
text = replace_once(text, '\nsource = {\n(  url = "[^"\n]+",\n)}\n', function(url)
  return "\nsource = {\n" .. url .. '  tag = "v' .. version .. '",\n}\n'
end, "source table with a url only")

local stale = {}
local p = io.popen("ls")
for file in p:lines() do
  if file:match("^genesys%-usage%-.*%.rockspec$") and file ~= name and file ~= "genesys-usage-scm-1.rockspec" then
    stale[#stale + 1] = file
  end
end
p:close()

local f = io.open(name, "rb")
local current = f and f:read("*a")
if f then f:close() end

local out_of_date = 0
if current ~= text then
  out_of_date = out_of_date + 1
  if check then
    print(name .. (current and " differs from" or " is missing, write it from") ..
          " genesys-usage-scm-1.rockspec: run `make rockspec`")
  else
    f = assert(io.open(name, "wb"))
    f:write(text)
    f:close()
    print("wrote " .. name)
  end
end
for _, file in ipairs(stale) do
  out_of_date = out_of_date + 1
  if check then
    print(file .. " is not for usage._VERSION " .. version .. ": run `make rockspec` (it removes it)")
  else
    assert(os.remove(file))
    print("removed " .. file)
  end
end
if out_of_date == 0 then print(name .. " is up to date") end
if check and out_of_date > 0 then os.exit(1) end
