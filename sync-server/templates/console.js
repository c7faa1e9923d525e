// The console's only script (CSP: no inline code): print buttons.
document.querySelectorAll('[data-print]').forEach((b) => b.addEventListener('click', () => window.print()));
