import { CustomizationProvider } from '@twilio-paste/core/customization';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './fonts.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
// Paste's default theme without Theme.Provider, which would load Inter from Twilio's CDN:
// an outside request on every page (failing offline, telling Twilio the agent's address).
// fonts.css serves the same font from Parley.
createRoot(root).render(
  <StrictMode>
    <CustomizationProvider baseTheme="default">
      <App />
    </CustomizationProvider>
  </StrictMode>,
);
