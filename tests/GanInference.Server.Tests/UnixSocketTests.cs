using System.Net.Sockets;
using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Tests;

/// <summary><c>Grpc:UnixSocket</c>: gRPC over a Unix domain socket beside TCP, a stale socket file replaced, anything else refused.</summary>
public sealed class UnixSocketTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("gan-uds-").FullName;

    private string SocketPath => Path.Combine(_folder, "grpc.sock");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Grpc_is_served_over_the_unix_socket_as_over_tcp_and_the_file_is_removed_at_stop()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", channels: 3, size: 16);
        await using (var server = await RunningServer.StartAsync(models, $"--Grpc:UnixSocket={SocketPath}"))
        {
            using var channel = UnixChannel(SocketPath);
            var client = new Api.V1.GanInference.GanInferenceClient(channel);

            var listed = await client.ListModelsAsync(new ListModelsRequest());
            Assert.Equal(["m"], listed.Models.Select(m => m.Name));
            var overSocket = await client.GenerateAsync(new GenerateRequest { Model = "m", Count = 2, Seed = 5, Format = ImageFormat.RawU8 });
            var overTcp = await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 2, Seed = 5, Format = ImageFormat.RawU8 });
            Assert.Equal(overTcp.Images.Select(i => i.Data), overSocket.Images.Select(i => i.Data));
            Assert.Equal(SocketPath, server.App.Services.GetService(typeof(Hosting.ServerListeners)) is Hosting.ServerListeners l ? l.UnixSocket : null);
        }

        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task A_stale_socket_file_from_an_earlier_process_is_replaced()
    {
        // A socket file no one listens on, as a crashed process leaves it. (.NET unlinks a socket's file when the
        // socket is closed, so the file is renamed away from the bound path first: rename keeps it a socket.)
        var bound = Path.Combine(_folder, "bound.sock");
        using (var old = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            old.Bind(new UnixDomainSocketEndPoint(bound));
            File.Move(bound, SocketPath);
        }

        Assert.Equal(Hosting.UnixSocketFile.State.StaleSocket, Hosting.UnixSocketFile.Inspect(SocketPath));
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, $"--Grpc:UnixSocket={SocketPath}");
        using var channel = UnixChannel(SocketPath);

        var reply = await new Api.V1.GanInference.GanInferenceClient(channel).ListModelsAsync(new ListModelsRequest());

        Assert.Single(reply.Models);
    }

    [Fact]
    public async Task A_file_that_is_not_a_socket_is_left_alone_and_stops_the_server_naming_the_key()
    {
        await File.WriteAllTextAsync(SocketPath, "not a socket");

        var error = await StartFails($"--Grpc:UnixSocket={SocketPath}");

        Assert.Contains($"Grpc:UnixSocket '{SocketPath}' exists and is not a socket", error.Message);
        Assert.Equal("not a socket", await File.ReadAllTextAsync(SocketPath));
    }

    [Fact]
    public async Task A_socket_another_process_listens_on_is_left_alone_and_stops_the_server()
    {
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(SocketPath));
        other.Listen();

        var error = await StartFails($"--Grpc:UnixSocket={SocketPath}");

        Assert.Contains("is a socket another process listens on", error.Message);
        Assert.True(File.Exists(SocketPath));
    }

    [Theory]
    [InlineData("relative/grpc.sock", "is not an absolute path")]
    [InlineData("/no-such-folder-gan/grpc.sock", "the folder /no-such-folder-gan does not exist")]
    public async Task A_path_that_cannot_be_bound_stops_the_server_naming_the_key(string path, string expected)
    {
        var error = await StartFails($"--Grpc:UnixSocket={path}");

        Assert.Contains($"Grpc:UnixSocket '{path}'", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public async Task A_path_too_long_for_a_socket_address_stops_the_server()
    {
        var error = await StartFails($"--Grpc:UnixSocket={Path.Combine(_folder, new string('s', 120))}");

        Assert.Contains("a Unix socket path holds at most 107", error.Message);
    }

    /// <summary>A gRPC channel whose every connection is the Unix socket (the address's host is only the :authority).</summary>
    internal static GrpcChannel UnixChannel(string path) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
    });

    private static async Task<OptionsValidationException> StartFails(string argument)
    {
        using var models = new TinyGanModels();
        return await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GanServer.Create(["--urls=http://127.0.0.1:0", "--Http:Urls=", $"--Models:Path={models.Root}", "--Models:Watch=false", argument]);
            await app.StartAsync();
        });
    }
}
