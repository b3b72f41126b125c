import { Box } from '@twilio-paste/core/box';
import { InPageNavigation, InPageNavigationItem } from '@twilio-paste/core/in-page-navigation';
import { type ComponentType, useEffect, useRef } from 'react';
import { navigate, usePath } from '../router';
import { useMediaQuery } from '../ui/useMediaQuery';
import { AccountsSection } from './AccountsSection';
import { AgentsSection } from './AgentsSection';
import { AuditSection } from './AuditSection';
import { FlowsSection } from './FlowsSection';
import { NumbersSection } from './NumbersSection';
import { OriginationTemplatesSection } from './OriginationTemplatesSection';
import { QueuesSection } from './QueuesSection';
import { QuickRepliesSection } from './QuickRepliesSection';
import { TemplatesSection } from './TemplatesSection';

interface Section {
  path: string;
  label: string;
  Page: ComponentType;
}

/**
 * In the order an admin sets Parley up: credentials, then numbers, the templates flows and
 * queues pick, flows, queues, people; then who changed what.
 */
const SECTIONS: Section[] = [
  { path: '/admin/accounts', label: 'Accounts', Page: AccountsSection },
  { path: '/admin/numbers', label: 'Numbers', Page: NumbersSection },
  { path: '/admin/templates', label: 'Templates', Page: TemplatesSection },
  { path: '/admin/flows', label: 'Flows', Page: FlowsSection },
  { path: '/admin/queues', label: 'Queues', Page: QueuesSection },
  { path: '/admin/agents', label: 'Agents', Page: AgentsSection },
  { path: '/admin/quick-replies', label: 'Quick replies', Page: QuickRepliesSection },
  { path: '/admin/task-templates', label: 'Task templates', Page: OriginationTemplatesSection },
  { path: '/admin/audit', label: 'Audit trail', Page: AuditSection },
];

/** Wide enough for a side navigation next to the tables (Paste's second breakpoint). */
const WIDE = '(min-width: 64rem)';

/** The admin console: a section per path under /admin (/admin itself shows accounts). */
export function AdminConsole() {
  const path = usePath();
  const wide = useMediaQuery(WIDE);
  const section =
    SECTIONS.find((s) => path === s.path || path.startsWith(`${s.path}/`)) ?? SECTIONS[0]!;
  const content = useRef<HTMLDivElement>(null);
  const shown = useRef(section.path);

  // After a switch (not on load), keyboard and screen readers start at the new heading.
  useEffect(() => {
    if (shown.current === section.path) return;
    shown.current = section.path;
    const heading = content.current?.querySelector<HTMLElement>('h1');
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    content.current?.scrollIntoView({ block: 'start' });
  }, [section.path]);

  return (
    <Box display="flex" flexDirection={wide ? 'row' : 'column'} minHeight="100%">
      <AdminNav current={section.path} wide={wide} />
      <Box
        ref={content}
        flexGrow={1}
        minWidth="0"
        padding={wide ? 'space100' : 'space60'}
        maxWidth="size120"
      >
        <section.Page />
      </Box>
    </Box>
  );
}

/** Vertical at desktop width; a scrolling tab row on a phone. */
function AdminNav({ current, wide }: { current: string; wide: boolean }) {
  return (
    // InPageNavigation is the <nav> landmark itself; this box only places it.
    <Box
      flexShrink={0}
      width={wide ? 'size20' : undefined}
      paddingX={wide ? 'space50' : 'space60'}
      paddingTop={wide ? 'space100' : 'space40'}
      borderRightStyle={wide ? 'solid' : 'none'}
      borderRightWidth="borderWidth10"
      borderRightColor="colorBorderWeaker"
      backgroundColor="colorBackgroundBody"
    >
      <InPageNavigation
        aria-label="Admin sections"
        orientation={wide ? 'vertical' : 'horizontal'}
        marginBottom="space0"
      >
        {SECTIONS.map((s) => (
          <InPageNavigationItem
            key={s.path}
            href={s.path}
            currentPage={s.path === current}
            onClick={(event) => {
              // Modified clicks (new tab, …) are the browser's.
              if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
              event.preventDefault();
              navigate(s.path);
            }}
          >
            {s.label}
          </InPageNavigationItem>
        ))}
      </InPageNavigation>
    </Box>
  );
}
