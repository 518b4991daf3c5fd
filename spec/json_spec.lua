-- usage.json: arrays stay arrays (empty ones too), counts stay integers, global cjson untouched.
local json = require "usage.json"

describe("usage.json", function()
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
    local _ = require("usage.json").decode('{"a":1}')
    assert.same(before, { cjson.encode_sparse_array() })
    assert.equal(1000, cjson.decode_max_depth())
  end)
end)
