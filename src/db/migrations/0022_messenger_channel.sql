ALTER TABLE "users" DROP CONSTRAINT "users_capacity_check";--> statement-breakpoint
ALTER TABLE "queue_members" ADD COLUMN "messenger_rank" smallint;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "capacity_messenger" smallint DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "load_messenger" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "queue_members_messenger_rank_idx" ON "queue_members" USING btree ("queue_id","messenger_rank","idle_rank","user_id") WHERE "queue_members"."messenger_rank" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_capacity_check" CHECK ("users"."capacity_sms" >= 0 AND "users"."capacity_whatsapp" >= 0 AND "users"."capacity_messenger" >= 0);--> statement-breakpoint
-- Messenger joins SMS and WhatsApp as a channel with its own capacity, load and rank: the
-- functions of 0016 and 0019 again, each written once over the channel of a number's kind
-- rather than a third copy of every column.
-- A number's channel (addresses.ts, channelOfKind): its kind for WhatsApp and Messenger,
-- SMS for every other kind.
CREATE FUNCTION parley_channel_of_kind(kind text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN kind IN ('whatsapp', 'messenger') THEN kind ELSE 'sms' END
$$;--> statement-breakpoint
-- Adds delta to (or takes it from) an agent's load on one channel, and ranks their
-- memberships again (all of them when their room on that channel ran out or came back).
CREATE FUNCTION parley_add_load(agent uuid, channel text, delta int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  room_changed boolean;
BEGIN
  UPDATE users
  SET load_sms = load_sms + CASE WHEN channel = 'sms' THEN delta ELSE 0 END,
      load_whatsapp = load_whatsapp + CASE WHEN channel = 'whatsapp' THEN delta ELSE 0 END,
      load_messenger = load_messenger + CASE WHEN channel = 'messenger' THEN delta ELSE 0 END
  WHERE id = agent
  RETURNING CASE channel
      WHEN 'sms' THEN (load_sms - delta < capacity_sms) <> (load_sms < capacity_sms)
      WHEN 'whatsapp' THEN (load_whatsapp - delta < capacity_whatsapp) <> (load_whatsapp < capacity_whatsapp)
      ELSE (load_messenger - delta < capacity_messenger) <> (load_messenger < capacity_messenger)
    END
  INTO room_changed;
  IF room_changed THEN
    PERFORM parley_rank_memberships(agent, true);
  ELSIF EXISTS (SELECT 1 FROM queue_members WHERE user_id = agent AND by_load) THEN
    PERFORM parley_rank_memberships(agent, false);
  END IF;
END $$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_conversations_agent_load() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_agent uuid;
  new_agent uuid;
  old_channel text;
  new_channel text;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.agent_id IS NOT NULL AND OLD.state IN ('offered', 'active') THEN
    old_agent := OLD.agent_id;
    SELECT parley_channel_of_kind(kind) INTO old_channel FROM numbers WHERE id = OLD.number_id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.agent_id IS NOT NULL AND NEW.state IN ('offered', 'active') THEN
    new_agent := NEW.agent_id;
    IF old_agent IS NOT NULL AND NEW.number_id = OLD.number_id THEN
      new_channel := old_channel;
    ELSE
      SELECT parley_channel_of_kind(kind) INTO new_channel FROM numbers WHERE id = NEW.number_id;
    END IF;
  END IF;
  IF old_agent IS NOT DISTINCT FROM new_agent AND old_channel IS NOT DISTINCT FROM new_channel THEN
    RETURN NULL;
  END IF;
  IF old_agent IS NOT NULL THEN
    PERFORM parley_add_load(old_agent, old_channel, -1);
  END IF;
  IF new_agent IS NOT NULL THEN
    PERFORM parley_add_load(new_agent, new_channel, 1);
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
-- The two-channel version, which nothing calls any more.
DROP FUNCTION parley_add_load(uuid, int, int);--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_queue_members_rank_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_sms, u.load_sms),
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_whatsapp, u.load_whatsapp),
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_messenger, u.load_messenger),
         parley_member_idle_rank(q.strategy, u.last_conversation_ended_at),
         q.strategy = 'least-busy'
    INTO NEW.sms_rank, NEW.whatsapp_rank, NEW.messenger_rank, NEW.idle_rank, NEW.by_load
    FROM users u, queues q WHERE u.id = NEW.user_id AND q.id = NEW.queue_id
    FOR SHARE OF u, q;
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_rank_memberships(agent uuid, all_strategies boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE queue_members m
  SET sms_rank = r.sms_rank, whatsapp_rank = r.whatsapp_rank, messenger_rank = r.messenger_rank,
      idle_rank = r.idle_rank
  FROM users u, queues q,
       LATERAL (SELECT
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_sms, u.load_sms) AS sms_rank,
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_whatsapp, u.load_whatsapp) AS whatsapp_rank,
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_messenger, u.load_messenger) AS messenger_rank,
         parley_member_idle_rank(q.strategy, u.last_conversation_ended_at) AS idle_rank) r
  WHERE m.user_id = agent AND u.id = agent AND q.id = m.queue_id AND (all_strategies OR m.by_load)
    AND (m.sms_rank, m.whatsapp_rank, m.messenger_rank, m.idle_rank)
        IS DISTINCT FROM (r.sms_rank, r.whatsapp_rank, r.messenger_rank, r.idle_rank);
END $$;--> statement-breakpoint
-- A change of Messenger capacity ranks the agent's memberships again, as the others do.
DROP TRIGGER users_member_ranks ON users;--> statement-breakpoint
CREATE TRIGGER users_member_ranks AFTER UPDATE ON users
  FOR EACH ROW WHEN ((OLD.presence, OLD.disabled_at, OLD.capacity_sms, OLD.capacity_whatsapp,
                      OLD.capacity_messenger, OLD.last_conversation_ended_at)
                     IS DISTINCT FROM
                     (NEW.presence, NEW.disabled_at, NEW.capacity_sms, NEW.capacity_whatsapp,
                      NEW.capacity_messenger, NEW.last_conversation_ended_at))
  EXECUTE FUNCTION parley_users_member_ranks();--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_queues_member_ranks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM users u JOIN queue_members m ON m.user_id = u.id
  WHERE m.queue_id = NEW.id ORDER BY u.id FOR SHARE OF u;
  UPDATE queue_members m
  SET sms_rank = parley_member_rank(NEW.strategy, u.presence, u.disabled_at, u.capacity_sms, u.load_sms),
      whatsapp_rank = parley_member_rank(NEW.strategy, u.presence, u.disabled_at, u.capacity_whatsapp, u.load_whatsapp),
      messenger_rank = parley_member_rank(NEW.strategy, u.presence, u.disabled_at, u.capacity_messenger, u.load_messenger),
      idle_rank = parley_member_idle_rank(NEW.strategy, u.last_conversation_ended_at),
      by_load = NEW.strategy = 'least-busy'
  FROM users u
  WHERE m.queue_id = NEW.id AND u.id = m.user_id;
  RETURN NULL;
END $$;--> statement-breakpoint
-- Backfill: every agent's load counted again by channel (a number given the kind messenger
-- before this migration was counted as SMS), then every member ranked again (the insert
-- trigger ranks a member on any update of its queue_id).
UPDATE users u SET load_sms = l.sms, load_whatsapp = l.whatsapp, load_messenger = l.messenger
FROM (SELECT c.agent_id,
             count(*) FILTER (WHERE parley_channel_of_kind(n.kind) = 'sms') AS sms,
             count(*) FILTER (WHERE parley_channel_of_kind(n.kind) = 'whatsapp') AS whatsapp,
             count(*) FILTER (WHERE parley_channel_of_kind(n.kind) = 'messenger') AS messenger
      FROM conversations c JOIN numbers n ON n.id = c.number_id
      WHERE c.agent_id IS NOT NULL AND c.state IN ('offered', 'active')
      GROUP BY c.agent_id) l
WHERE l.agent_id = u.id
  AND (u.load_sms, u.load_whatsapp, u.load_messenger) IS DISTINCT FROM (l.sms, l.whatsapp, l.messenger);--> statement-breakpoint
UPDATE queue_members SET queue_id = queue_id;
