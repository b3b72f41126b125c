import { Theme } from '@twilio-paste/core/theme';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <Theme.Provider theme="default">
      <App />
    </Theme.Provider>
  </StrictMode>,
);
