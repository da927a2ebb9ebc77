using System.Globalization;
using System.Text;
using Grpc.Core;

namespace GanInference.Server.Services;

/// <summary>
/// Answers a gRPC call from middleware, before gRPC has read it: a trailers-only response, where the status
/// travels in the headers and there is no body (what a gRPC server sends for a call it refuses outright).
/// </summary>
internal static class GrpcTrailersOnlyResponse
{
    public static bool IsGrpc(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    public static async Task WriteAsync(HttpContext context, StatusCode status, string message)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)status).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = PercentEncode(message);
        await context.Response.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>grpc-message encoding: printable ASCII except '%' as is, everything else as %XX of its UTF-8 bytes.</summary>
    private static string PercentEncode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
