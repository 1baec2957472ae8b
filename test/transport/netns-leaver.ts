// Run by netns.test.ts: makes one host, prints the namespaces' tag, then waits to be killed with
// SIGKILL (so no exit hook runs and the namespaces are left behind, as a killed run leaves them).
import { createHosts } from '../../scripts/support/netns.ts';

const hosts = createHosts(1);
console.log(hosts.tag);
setInterval(() => {}, 60_000);
