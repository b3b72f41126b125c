ALTER TABLE "queue_members" ADD COLUMN "sms_rank" smallint;--> statement-breakpoint
ALTER TABLE "queue_members" ADD COLUMN "whatsapp_rank" smallint;--> statement-breakpoint
ALTER TABLE "queue_members" ADD COLUMN "idle_rank" timestamp with time zone DEFAULT '-infinity' NOT NULL;--> statement-breakpoint
ALTER TABLE "queue_members" ADD COLUMN "by_load" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "queue_members_user_idx" ON "queue_members" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "queue_members_sms_rank_idx" ON "queue_members" USING btree ("queue_id","sms_rank","idle_rank","user_id") WHERE "queue_members"."sms_rank" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "queue_members_whatsapp_rank_idx" ON "queue_members" USING btree ("queue_id","whatsapp_rank","idle_rank","user_id") WHERE "queue_members"."whatsapp_rank" IS NOT NULL;--> statement-breakpoint
-- A queue member's place in the queue's strategy order on a channel (schema.ts, queue_members):
-- null while they cannot take a conversation there, else their load minus capacity for
-- least-busy (most room first) and 0 for the others.
CREATE FUNCTION parley_member_rank(strategy text, presence text, disabled_at timestamptz,
                                   capacity smallint, load smallint) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN presence <> 'available' OR disabled_at IS NOT NULL OR load >= capacity THEN NULL
              WHEN strategy = 'least-busy' THEN (load - capacity)::smallint
              ELSE 0::smallint END
$$;--> statement-breakpoint
-- Then when their last conversation ended (never: first); round-robin goes by id alone.
CREATE FUNCTION parley_member_idle_rank(strategy text, last_ended timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN strategy = 'round-robin' THEN '-infinity'::timestamptz
              ELSE coalesce(last_ended, '-infinity'::timestamptz) END
$$;--> statement-breakpoint
-- The agent's and the queue's rows are read under a share lock: a change of either that is
-- not committed yet (whose trigger cannot see this membership) is waited for and read.
CREATE FUNCTION parley_queue_members_rank_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_sms, u.load_sms),
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_whatsapp, u.load_whatsapp),
         parley_member_idle_rank(q.strategy, u.last_conversation_ended_at),
         q.strategy = 'least-busy'
    INTO NEW.sms_rank, NEW.whatsapp_rank, NEW.idle_rank, NEW.by_load
    FROM users u, queues q WHERE u.id = NEW.user_id AND q.id = NEW.queue_id
    FOR SHARE OF u, q;
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE TRIGGER queue_members_rank_insert BEFORE INSERT OR UPDATE OF queue_id, user_id ON queue_members
  FOR EACH ROW EXECUTE FUNCTION parley_queue_members_rank_insert();--> statement-breakpoint
-- The agent's row changed what ranks them: their memberships follow, in the same transaction
-- (which holds the agent's row lock, so two of them never write one member's row at once).
-- Only least-busy ranks (by_load) follow every change of load; the others change when the
-- agent's room runs out or comes back, so `all_strategies` is false for a load change that
-- did neither.
CREATE FUNCTION parley_rank_memberships(agent uuid, all_strategies boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE queue_members m
  SET sms_rank = r.sms_rank, whatsapp_rank = r.whatsapp_rank, idle_rank = r.idle_rank
  FROM users u, queues q,
       LATERAL (SELECT
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_sms, u.load_sms) AS sms_rank,
         parley_member_rank(q.strategy, u.presence, u.disabled_at, u.capacity_whatsapp, u.load_whatsapp) AS whatsapp_rank,
         parley_member_idle_rank(q.strategy, u.last_conversation_ended_at) AS idle_rank) r
  WHERE m.user_id = agent AND u.id = agent AND q.id = m.queue_id AND (all_strategies OR m.by_load)
    AND (m.sms_rank, m.whatsapp_rank, m.idle_rank) IS DISTINCT FROM (r.sms_rank, r.whatsapp_rank, r.idle_rank);
END $$;--> statement-breakpoint
CREATE FUNCTION parley_users_member_ranks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM parley_rank_memberships(NEW.id, true);
  RETURN NULL;
END $$;--> statement-breakpoint
-- Load changes are ranked by the load trigger itself (below), which knows what changed.
CREATE TRIGGER users_member_ranks AFTER UPDATE ON users
  FOR EACH ROW WHEN ((OLD.presence, OLD.disabled_at, OLD.capacity_sms, OLD.capacity_whatsapp,
                      OLD.last_conversation_ended_at)
                     IS DISTINCT FROM
                     (NEW.presence, NEW.disabled_at, NEW.capacity_sms, NEW.capacity_whatsapp,
                      NEW.last_conversation_ended_at))
  EXECUTE FUNCTION parley_users_member_ranks();--> statement-breakpoint
-- Adds to (or takes from) an agent's load, and ranks their memberships again.
CREATE FUNCTION parley_add_load(agent uuid, sms int, whatsapp int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  room_changed boolean;
BEGIN
  UPDATE users SET load_sms = load_sms + sms, load_whatsapp = load_whatsapp + whatsapp
  WHERE id = agent
  RETURNING (load_sms - sms < capacity_sms) <> (load_sms < capacity_sms)
         OR (load_whatsapp - whatsapp < capacity_whatsapp) <> (load_whatsapp < capacity_whatsapp)
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
  old_whatsapp boolean;
  new_whatsapp boolean;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.agent_id IS NOT NULL AND OLD.state IN ('offered', 'active') THEN
    old_agent := OLD.agent_id;
    SELECT kind = 'whatsapp' INTO old_whatsapp FROM numbers WHERE id = OLD.number_id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.agent_id IS NOT NULL AND NEW.state IN ('offered', 'active') THEN
    new_agent := NEW.agent_id;
    IF old_agent IS NOT NULL AND NEW.number_id = OLD.number_id THEN
      new_whatsapp := old_whatsapp;
    ELSE
      SELECT kind = 'whatsapp' INTO new_whatsapp FROM numbers WHERE id = NEW.number_id;
    END IF;
  END IF;
  IF old_agent IS NOT DISTINCT FROM new_agent AND old_whatsapp IS NOT DISTINCT FROM new_whatsapp THEN
    RETURN NULL;
  END IF;
  IF old_agent IS NOT NULL THEN
    PERFORM parley_add_load(old_agent, -(NOT old_whatsapp)::int, -old_whatsapp::int);
  END IF;
  IF new_agent IS NOT NULL THEN
    PERFORM parley_add_load(new_agent, (NOT new_whatsapp)::int, new_whatsapp::int);
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
-- The members' agents are share-locked first, in id order as routing locks them: a load
-- change not committed yet is waited for (then read), and the two cannot deadlock.
CREATE FUNCTION parley_queues_member_ranks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM users u JOIN queue_members m ON m.user_id = u.id
  WHERE m.queue_id = NEW.id ORDER BY u.id FOR SHARE OF u;
  UPDATE queue_members m
  SET sms_rank = parley_member_rank(NEW.strategy, u.presence, u.disabled_at, u.capacity_sms, u.load_sms),
      whatsapp_rank = parley_member_rank(NEW.strategy, u.presence, u.disabled_at, u.capacity_whatsapp, u.load_whatsapp),
      idle_rank = parley_member_idle_rank(NEW.strategy, u.last_conversation_ended_at),
      by_load = NEW.strategy = 'least-busy'
  FROM users u
  WHERE m.queue_id = NEW.id AND u.id = m.user_id;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER queues_member_ranks AFTER UPDATE OF strategy ON queues
  FOR EACH ROW WHEN (OLD.strategy IS DISTINCT FROM NEW.strategy)
  EXECUTE FUNCTION parley_queues_member_ranks();--> statement-breakpoint
UPDATE queue_members SET queue_id = queue_id;
