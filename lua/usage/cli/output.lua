-- usage.cli.output: where a command's output goes and in which format, as an option group:
--   output.add(cmd [, formats])          -- the Output group of an argparse command: --format (from formats,
--                                        -- the first the default), --output, --bom and --raw-csv (with
--                                        -- formats), --dry-run
--   local fmt = output.format(args, formats)   -- the format: --format, else the --output file's
--                                        -- extension, else the first; a mismatch is a usage error
--   local out = output.open(args)        -- the sink of --output (or standard output): out.fh:write(...)
--   output.commit(out, term [, warning]) -- the file is complete (usage.cli.sink), then said on stderr
--   output.days_note(term, days, fmt)    -- the days, on stderr, where the format has no room for them
-- The files themselves (complete or not at all, never a planted symlink followed) are usage.cli.sink's.

local params = require "usage.api.params"
local sink = require "usage.cli.sink"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"

local M = {}

local concat = table.concat
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)

-- the formats of the row commands (usage.cli.formats)
M.ROW_FORMATS = { "table", "csv", "json", "ndjson" }

-- the formats an --output file's extension stands for
local EXTENSIONS = { csv = "csv", json = "json", ndjson = "ndjson", html = "html", svg = "svg" }

-- add(cmd [, formats]): the Output group (formats: the names --format takes; none: no --format, --bom,
-- --raw-csv)
function M.add(cmd, formats)
  local list = {}
  if formats then
    list[#list + 1] = cmd:option("-f --format", "output format: " .. concat(formats, ", ") .. "; default: from " ..
                                 "the --output file's extension, else table"):argname("FORMAT")
                         :convert(params.text.choice("format", formats)):overwrite(false)
  end
  list[#list + 1] = cmd:option("-o --output", "write to FILE, complete or not at all (a temporary file renamed " ..
                               "at the end)"):argname("FILE"):overwrite(false)
  if formats then
    list[#list + 1] = cmd:flag("--bom", "start CSV with a UTF-8 byte order mark (Excel)"):overwrite(false)
    list[#list + 1] = cmd:flag("--raw-csv", "CSV text cells exactly as the server sent them (by default a cell " ..
                               "that a spreadsheet would run as a formula, starting with = + - @ tab or CR, gets a " ..
                               "leading ')"):overwrite(false)
  end
  list[#list + 1] = cmd:flag("--dry-run", "print the requests that would be sent (method, path, JSON body) and " ..
                             "the days; send nothing"):overwrite(false)
  cmd:group("Output", unpack(list))
end

local function contains(list, v)
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
end

-- format(args, formats) -> the format to write: --format, else the --output file's extension, else table;
-- usage errors: an extension of another format or of none of the command's, --bom or --raw-csv without CSV
function M.format(args, formats)
  local name = args.command
  local ext = args.output and args.output:match("%.(%w+)$")
  local by_ext = ext and EXTENSIONS[ext:lower()]
  if by_ext and not contains(formats, by_ext) then
    failure.usage(string.format("--output %s: %s is not an output of %s (%s)", args.output, by_ext, name,
                                concat(formats, ", ")), name)
  end
  if args.format and by_ext and args.format ~= by_ext then
    failure.usage(string.format("--format %s does not match --output %s (%s)", args.format, args.output, by_ext), name)
  end
  local fmt = args.format or by_ext or "table"
  if args.bom and fmt ~= "csv" then failure.usage("--bom is for CSV output, not " .. fmt, name) end
  if args.raw_csv and fmt ~= "csv" then failure.usage("--raw-csv is for CSV output, not " .. fmt, name) end
  return fmt
end

-- open(args) -> the sink of --output, or of standard output; one that cannot be opened ends the command
function M.open(args)
  local out, err = sink.open(args.output, failure.runtime)
  if not out then failure.runtime(err) end
  return out
end

-- commit(out, term [, warning]): a trapped signal stops here; else the output is made complete (the file
-- in place), the warning said (what the output may lack: said once it is there), and the file named
function M.commit(out, term, warning)
  failure.check()
  local ok, err = out:commit()
  if not ok then failure.runtime(err) end
  if warning then term:warn(warning) end
  if out.path then term:note("wrote " .. out.path) end
end

-- days_note(term, days, fmt): where the format has no room for the days (csv, ndjson), say them on stderr
function M.days_note(term, days, fmt)
  if days and not days.empty and (fmt == "csv" or fmt == "ndjson") then
    term:note("the rows cover " .. days_mod.describe(days))
  end
end

return M
