-- ARGV: base, version, floor, n, n x (partition field, next offset), then (partition field, last position) pairs.
-- A version being built records that it holds every event at or below ``floor``, where the live projector
-- resumes once it is switched in, and the last positions it takes over.
local p = ARGV[1] .. ':v' .. ARGV[2] .. ':'
if redis.call('HGET', p .. 'meta', 'state') ~= 'building' then
  return redis.error_reply('ELSTATE version ' .. ARGV[2] .. ' is not being built')
end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', p .. 'meta', 'floor') or '0') then
  redis.call('HSET', p .. 'meta', 'floor', ARGV[3])
end
local n = tonumber(ARGV[4])
for j = 5, 4 + 2 * n, 2 do redis.call('HSET', p .. 'offsets', ARGV[j], ARGV[j + 1]) end
for j = 5 + 2 * n, #ARGV, 2 do redis.call('HSET', p .. 'last', ARGV[j], ARGV[j + 1]) end
return recompute_reflected(p)
