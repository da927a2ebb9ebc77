using System.Net.Http.Headers;

namespace GanInference.Client;

/// <summary>
/// Sends <c>authorization: Bearer &lt;key&gt;</c> on every call (the header the server's <c>Security:ApiKeys</c>
/// check reads). An HTTP handler rather than gRPC call credentials, so it also covers calls made through
/// <see cref="GanClient.Stub"/> and works on cleartext (h2c) channels, where gRPC refuses call credentials.
/// </summary>
internal sealed class ApiKeyHandler(string key) : DelegatingHandler
{
    private readonly AuthenticationHeaderValue _header = new("Bearer", key);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = _header;
        return base.SendAsync(request, cancellationToken);
    }
}
