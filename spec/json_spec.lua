-- usage.json: arrays stay arrays (empty ones too), counts stay integers, global cjson untouched.
local json = require "usage.base.json"

describe("usage.base.json", function()
  it("encodes empty arrays as [] and empty objects as {}", function()
    assert.equal('{"a":[],"b":{}}', json.encode { a = json.array(), b = {} })
    assert.equal("[]", json.encode(json.array {}))
  end)

  it("encodes objects with sorted keys and arrays in order", function()
    assert.equal('{"groupBy":["OAuthClientId","HttpMethod"],"interval":"x/y"}',
      json.encode { interval = "x/y", groupBy = { "OAuthClientId", "HttpMethod" } })
  end)

  it("keeps large counts exact and integral", function()
    assert.equal("[5994582206,9007199254740991,1.5,-3]", json.encode { 5994582206, 2 ^ 53 - 1, 1.5, -3 })
    assert.equal("1e+300", json.encode(1e300))
  end)

  it("escapes strings (and leaves slashes alone)", function()
    assert.equal('"2025-01-01/2025-02-01"', json.encode("2025-01-01/2025-02-01"))
    assert.equal('"a\\\\/b"', json.encode("a\\/b"))
    assert.equal('"a\\"b\\\\c\\n\\u0000"', json.encode('a"b\\c\n\0'))
    assert.equal('"Équipe データ"', json.encode("Équipe データ"))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.encode { 1, 2, x = 3 } end)
    assert.has_error(function() json.encode { [1] = 1, [3] = 3 } end)
    assert.has_error(function() json.encode(0 / 0) end)
    assert.has_error(function() json.encode(print) end)
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end)
  end)

  it("round-trips null", function()
    assert.equal('{"a":null}', json.encode { a = json.null })
  end)

  it("does not change the global cjson settings", function()
    local cjson = require "cjson"
    local before = { cjson.encode_sparse_array() }
    local _ = require("usage.base.json").decode('{"a":1}')
    assert.same(before, { cjson.encode_sparse_array() })
    assert.equal(1000, cjson.decode_max_depth())
  end)

  it("refuses non-finite numbers when decoding (a count cannot be 1e400)", function()
    local v, err = json.decode('{"requestCount":1e400}')
    assert.is_nil(v)
    assert.matches("not finite", err)
    assert.is_nil((json.decode('[1,[2,{"a":-1e999}]]')))
    assert.equal(5994582206, json.decode('{"a":5994582206}').a)
  end)

  -- usage.json loaded with `cjson` standing for a newer build: one that decodes integers natively (Lua 5.3+)
  -- and marks decoded arrays with cjson.array_mt
  local function with_newer_cjson(fn)
    local real = require "cjson"
    local array_mt = { __name = "cjson.array" }
    local function mark(v)
      if type(v) ~= "table" then return v end
      for k, x in pairs(v) do v[k] = mark(x) end
      if #v > 0 or next(v) == nil then setmetatable(v, array_mt) end
      return v
    end
    local stub = setmetatable({ array_mt = array_mt }, { __index = real })
    function stub.new()
      local inst = real.new()
      local marking = false
      local decoded_by = inst.decode
      local wrapper = setmetatable({}, { __index = inst })
      function wrapper.decode_array_with_array_mt(on) marking = on end
      function wrapper.decode(text)
        local v = decoded_by(text)
        if math.tointeger then
          local function ints(x)
            if type(x) == "table" then for k, y in pairs(x) do x[k] = ints(y) end return x end
            if type(x) == "number" then return math.tointeger(x) or x end
            return x
          end
          v = ints(v)
        end
        return marking and mark(v) or v
      end
      return wrapper
    end
    local saved_cjson, saved_json = package.loaded.cjson, package.loaded["usage.base.json"]
    package.loaded.cjson, package.loaded["usage.base.json"] = stub, nil
    local ok, err = pcall(function() fn(require("usage.base.json"), array_mt) end)
    package.loaded.cjson, package.loaded["usage.base.json"] = saved_cjson, saved_json
    if not ok then error(err, 0) end
  end

  it("uses what a newer lua-cjson does by itself: native integers and marked arrays", function()
    with_newer_cjson(function(newer, array_mt)
      assert.equal(math.type ~= nil, newer.features.integers)
      assert.is_true(newer.features.array_mt)
      assert.is_true(newer.marks_arrays)
      assert.equal(array_mt, newer.array_mt)
      local v = newer.decode('{"entities":[],"n":5994582206,"x":[1,2]}')
      assert.equal(array_mt, getmetatable(v.entities))
      assert.equal('{"entities":[],"n":5994582206,"x":[1,2]}', newer.encode(v))
      if math.type then assert.equal("integer", math.type(v.n)) end
      assert.is_nil((newer.decode('{"a":1e400}')))
    end)
    -- Debian's lua-cjson 2.1.0 has neither: the bridge converts and the client marks
    assert.is_false(json.features.array_mt)
    assert.is_false(json.features.integers)
    assert.is_false(json.marks_arrays)
  end)
end)
