-- support.verdicts: real parsers' verdicts (spec/support/outputs.py: Python's json, csv, xml.dom.minidom,
-- html.parser, unicodedata) on several texts at once, in one Python process (starting Python is what costs).
--   local verdicts = require "support.verdicts"
--   local parsed = verdicts { { "json", text1 }, { "csv", text2 }, ... }   -- parsed[i]: what the parser read
-- A text its parser refuses raises, naming the mode, the reason and the start of the text.

local nginx = require "support.nginx"
local cjson = require("cjson").new()

local PY = nginx.absolute("spec/support/outputs.py")

-- runs outputs.py once per (mode, file), in one interpreter, in order
local DRIVER = "import sys, runpy\n" ..
  "py = sys.argv[1]\n" ..
  "rest = sys.argv[2:]\n" ..
  "for i in range(0, len(rest), 2):\n" ..
  "    sys.argv = [py, rest[i], rest[i + 1]]\n" ..
  "    runpy.run_path(py)\n" ..
  "    sys.stdout.flush()\n"

return function(list)
  assert(nginx.run("command -v python3 >/dev/null 2>&1"), "these specs need python3 (spec/support/outputs.py)")
  local dir = nginx.temp_dir("usage-verdicts")
  local args = {}
  for i, item in ipairs(list) do
    local path = dir .. "/" .. i
    nginx.write_file(path, item[2])
    args[#args + 1] = nginx.sh_quote(item[1])
    args[#args + 1] = nginx.sh_quote(path)
  end
  local p = io.popen("python3 -c " .. nginx.sh_quote(DRIVER) .. " " .. nginx.sh_quote(PY) .. " " ..
                     table.concat(args, " ") .. " 2>&1")
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  nginx.remove_dir(dir)
  local parsed = {}
  for i, item in ipairs(list) do
    local ok, v = pcall(cjson.decode, out[i] or "")
    if not ok or type(v) ~= "table" then error("outputs.py: " .. table.concat(out, "\n"), 2) end
    if v.fail ~= nil then
      error(item[1] .. " refused by its parser: " .. tostring(v.fail) .. "\n" .. item[2]:sub(1, 600), 2)
    end
    parsed[i] = v.ok
  end
  return parsed
end
