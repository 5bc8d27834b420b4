// A third-party tus 1.0.0 server (@tus/server with @tus/file-store) as an upload target for
// the uploads tests. Usage: node server.mjs <upload folder>. Listens on 127.0.0.1 on a free
// port and prints one line {"port":N} when ready; exits when its standard input closes, so it
// never outlives the test that started it.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: node server.mjs <upload folder>');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
