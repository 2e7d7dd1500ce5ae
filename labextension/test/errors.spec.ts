import { DebugServerError, errorFromResponse, query } from '../src/errors';

describe('errorFromResponse', () => {
  it("carries the server's sentence and reason", async () => {
    const response = new Response(
      JSON.stringify({ message: "program '/etc/x' is outside the server's root", reason: 'outside-root' }),
      { status: 400, statusText: 'Bad Request' }
    );
    const error = await errorFromResponse(response, 'POST sessions');
    expect(error).toBeInstanceOf(DebugServerError);
    expect(error.message).toBe("program '/etc/x' is outside the server's root");
    expect(error.status).toBe(400);
    expect(error.reason).toBe('outside-root');
  });

  it('falls back to the status when the body is not ours', async () => {
    const response = new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
    const error = await errorFromResponse(response, 'GET sessions');
    expect(error.message).toBe('GET sessions failed: HTTP 502 Bad Gateway');
    expect(error.reason).toBeNull();
  });
});

describe('query', () => {
  it('encodes values and leaves out undefined ones', () => {
    expect(query({ since: 0, limit: 10, q: undefined })).toBe('?since=0&limit=10');
    expect(query({ q: 'a b&c' })).toBe('?q=a%20b%26c');
    expect(query({})).toBe('');
  });
});
