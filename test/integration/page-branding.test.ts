/**
 * The organiser's branding reaches the page through `config.json`, from the same environment
 * variables on both runtimes, and nothing a visitor sends changes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';

const LOGO = 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=';
const BRANDING = {
  WR_EVENT_NAME: 'Spring sale',
  WR_EVENT_TEXT: 'Doors open at 10:00. One order per visitor.',
  WR_EVENT_LOGO: LOGO,
  WR_BRAND_COLOR: '#0B7A75',
};

let room: RuntimeRoom | undefined;

afterEach(async () => {
  await room?.close();
  room = undefined;
});

describe.each(RUNTIMES)('the page config on the %s runtime', (runtime) => {
  it('carries the event name, text, logo and colour from the environment', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, BRANDING);

    // Act
    const response = await fetch(`${room.url}/waiting-room/config.json`);
    const config = (await response.json()) as Record<string, unknown>;

    // Assess
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(config).toEqual({
      wsUrl: null,
      mainOrigin: room.url,
      roomName: 'Spring sale',
      eventText: 'Doors open at 10:00. One order per visitor.',
      eventLogo: LOGO,
      brandColor: '#0b7a75',
    });
  });

  it("is the same whatever the visitor's URL or headers say", async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, BRANDING);
    const plain = await (await fetch(`${room.url}/waiting-room/config.json`)).text();

    // Act
    const tampered = await (
      await fetch(
        `${room.url}/waiting-room/config.json?roomName=Hacked&brandColor=%23ff0000&eventLogo=https://evil.example/x.png`,
        { headers: { 'accept-language': 'de-DE', cookie: 'roomName=Hacked' } },
      )
    ).text();

    // Assess
    expect(tampered).toBe(plain);
  });

  it("lets the page load an inline logo: its CSP allows images from 'self' and data: only", async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, BRANDING);

    // Act
    const response = await fetch(`${room.url}/waiting-room/`);

    // Assess
    expect(response.headers.get('content-security-policy')).toContain("img-src 'self' data:;");
  });
});
