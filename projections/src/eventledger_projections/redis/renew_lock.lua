-- KEYS: lock; ARGV: token, ttl ms. Extends the lock only while we still hold it; answers 1 or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
