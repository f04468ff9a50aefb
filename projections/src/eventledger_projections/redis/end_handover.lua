-- ARGV: base, version, token. Lets live writes go on (a hand-over that failed); only with our own token.
local meta = ARGV[1] .. ':v' .. ARGV[2] .. ':meta'
local handover = redis.call('HGET', meta, 'handover')
if handover and string.sub(handover, 1, #ARGV[3] + 1) == ARGV[3] .. '|' then
  return redis.call('HDEL', meta, 'handover')
end
return 0
