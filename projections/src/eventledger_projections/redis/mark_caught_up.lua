-- ARGV: base, version, relay position, then (partition field, high watermark) pairs. Answers the reflected
-- position, or -1 when the version is no longer live.
local base, version = ARGV[1], ARGV[2]
if redis.call('GET', base .. ':live') ~= version then return -1 end
local p = base .. ':v' .. version .. ':'
local relay = tonumber(ARGV[3])
for j = 4, #ARGV, 2 do
  local field, high = ARGV[j], tonumber(ARGV[j + 1])
  local next_offset = tonumber(redis.call('HGET', p .. 'offsets', field) or '0')
  local mark = redis.call('HGET', p .. 'marks', field)
  if next_offset >= high then
    if not mark or tonumber(mark) < relay then redis.call('HSET', p .. 'marks', field, ARGV[3]) end
  elseif not mark then
    redis.call('HSET', p .. 'marks', field, '0')
  end
end
return recompute_reflected(p)
