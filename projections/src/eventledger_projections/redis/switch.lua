-- ARGV: base, new version, expected live version ('' for none), hand-over token ('' for none), now.
-- Points readers and projectors at the new version. Refuses when the live version is not the expected one, when
-- the hand-over deadline passed (live writes went on: the offsets taken over are stale), or when the new
-- version's floor is below the old one's reflected position (the reflected position never goes back).
local base, new, expected, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local current = redis.call('GET', base .. ':live') or ''
if current ~= expected then
  return redis.error_reply('ELSWITCH the live version is ' .. current .. ', not ' .. expected)
end
local new_meta = base .. ':v' .. new .. ':meta'
if redis.call('HGET', new_meta, 'state') ~= 'building' then
  return redis.error_reply('ELSTATE version ' .. new .. ' is not being built')
end
if current ~= '' then
  local old_meta = base .. ':v' .. current .. ':meta'
  local handover = redis.call('HGET', old_meta, 'handover') or ''
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if string.sub(handover, 1, #token + 1) ~= token .. '|' or tonumber(string.match(handover, '|(%d+)$')) <= now_ms then
    return redis.error_reply('ELSWITCH the hand-over from version ' .. current .. ' is not ours or timed out')
  end
  local old_reflected = tonumber(redis.call('HGET', old_meta, 'reflected_position') or '0')
  if old_reflected > tonumber(redis.call('HGET', new_meta, 'floor') or '0') then
    return redis.error_reply('ELSWITCH version ' .. new .. ' is behind the reflected position ' .. old_reflected)
  end
  redis.call('HSET', old_meta, 'state', 'retired', 'retired_at', ARGV[5])
  redis.call('HDEL', old_meta, 'handover')
end
redis.call('HSET', new_meta, 'state', 'live', 'switched_at', ARGV[5])
redis.call('SET', base .. ':live', new)
return 1
