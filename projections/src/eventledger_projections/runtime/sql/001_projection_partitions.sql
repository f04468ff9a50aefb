-- Where a projection has got to, per Kafka partition. A store that can keeps these rows in the same transaction as
-- its read-model rows, so that a crash between the store write and the Kafka commit leaves no double effect.
--
-- next_offset         the offset to resume at: every message before it was applied or parked
-- last_position       the highest global position among the messages before next_offset
-- caught_up_position  a relay checkpoint C such that, when it was recorded, next_offset had reached the partition's
--                     high watermark read after C: every event of this partition at or below C is applied
-- The read model reflects min over its partitions of greatest(last_position, caught_up_position)
-- (docs/adr/0007-projection-runtime.md).
CREATE TABLE IF NOT EXISTS projection_partitions (
    projection          text        NOT NULL,
    topic               text        NOT NULL,
    partition           integer     NOT NULL,
    next_offset         bigint      NOT NULL DEFAULT 0,
    last_position       bigint      NOT NULL DEFAULT 0,
    caught_up_position  bigint      NOT NULL DEFAULT 0,
    dead_letters        bigint      NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (projection, topic, partition)
);
