ALTER TABLE "users" ADD COLUMN "load_sms" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "load_whatsapp" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- An agent's load (routing/agents.ts): their conversations offered or active, per channel.
-- Kept on every change of a conversation's state, agent or number, so that ranking a
-- queue's members reads two columns instead of counting each member's conversations.
-- Moving a conversation from one agent to another takes both agents' row locks: callers
-- that change several agents' conversations lock those agents in id order first.
CREATE FUNCTION parley_conversations_agent_load() RETURNS trigger LANGUAGE plpgsql AS $$
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
    UPDATE users SET load_sms = load_sms - (NOT old_whatsapp)::int,
                     load_whatsapp = load_whatsapp - old_whatsapp::int
    WHERE id = old_agent;
  END IF;
  IF new_agent IS NOT NULL THEN
    UPDATE users SET load_sms = load_sms + (NOT new_whatsapp)::int,
                     load_whatsapp = load_whatsapp + new_whatsapp::int
    WHERE id = new_agent;
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER conversations_agent_load_insert AFTER INSERT ON conversations
  FOR EACH ROW WHEN (NEW.agent_id IS NOT NULL)
  EXECUTE FUNCTION parley_conversations_agent_load();--> statement-breakpoint
CREATE TRIGGER conversations_agent_load_update AFTER UPDATE OF state, agent_id, number_id ON conversations
  FOR EACH ROW WHEN ((OLD.agent_id IS NOT NULL OR NEW.agent_id IS NOT NULL)
    AND (OLD.state, OLD.agent_id, OLD.number_id) IS DISTINCT FROM (NEW.state, NEW.agent_id, NEW.number_id))
  EXECUTE FUNCTION parley_conversations_agent_load();--> statement-breakpoint
CREATE TRIGGER conversations_agent_load_delete AFTER DELETE ON conversations
  FOR EACH ROW WHEN (OLD.agent_id IS NOT NULL)
  EXECUTE FUNCTION parley_conversations_agent_load();--> statement-breakpoint
UPDATE users u SET load_sms = l.sms, load_whatsapp = l.whatsapp
FROM (SELECT c.agent_id,
             count(*) FILTER (WHERE n.kind <> 'whatsapp') AS sms,
             count(*) FILTER (WHERE n.kind = 'whatsapp') AS whatsapp
      FROM conversations c JOIN numbers n ON n.id = c.number_id
      WHERE c.agent_id IS NOT NULL AND c.state IN ('offered', 'active')
      GROUP BY c.agent_id) l
WHERE l.agent_id = u.id;
