using System.CommandLine;
using GanInference.Api.V1;
using GanInference.Cli.Imaging;
using Spectre.Console;
using Google.Protobuf;
using Grpc.Core;

namespace GanInference.Cli.Commands;

/// <summary>
/// `gan translate`: every PNG/JPEG under a folder through an image-to-image model over one TranslateStream,
/// written under the output folder at the same relative path. A file that cannot be read or that the server
/// refuses is listed at the end (exit code 2); the others are still translated.
/// </summary>
internal static class TranslateCommand
{
    private static readonly string[] InputExtensions = [".png", ".jpg", ".jpeg"];

    public static Command Create(CliHost host, ServerConnection connection)
    {
        var model = new Option<string>("--model", "-m") { Description = "An image-to-image model (see `gan models`)", Required = true };
        var input = new Option<string>("--in", "-i") { Description = "Folder of PNG/JPEG images, searched recursively", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder for the translations; sub-folders of --in are kept", Required = true };
        var format = CliOptions.Format("Output file format", ImageFormat.Png, "png", "jpeg");
        var resizeBack = new Option<bool>("--resize-back") { Description = "Answer each image at its own size when it differs from the model's" };

        var command = new Command("translate", "Translate a folder of images with an image-to-image model.");
        command.Options.Add(model);
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(format);
        command.Options.Add(resizeBack);

        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            var inputRoot = Path.GetFullPath(parse.GetValue(input)!);
            var files = ListInputs(inputRoot);
            var outputRoot = OutputFiles.PrepareFolder(parse.GetValue(output)!, "--out");
            using var client = connection.CreateClient(parse);
            var info = await ModelLookup.GetAsync(client, parse.GetValue(model)!, cancellationToken).ConfigureAwait(false);
            if (info.Kind != ModelKind.ImageToImage)
            {
                throw new CliException($"model '{info.Name}' is {ModelLookup.KindName(info.Kind)}; `gan translate` needs an image-to-image model.");
            }

            var run = new TranslationRun(inputRoot, outputRoot, parse.GetValue(format));
            using var call = client.Stub.TranslateStream(cancellationToken: cancellationToken);
            var sender = SendAsync(call.RequestStream, files, run, info.Name, parse.GetValue(format), parse.GetValue(resizeBack), cancellationToken);
            await foreach (var answer in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await run.ReceiveAsync(answer).ConfigureAwait(false);
            }

            await sender.ConfigureAwait(false);
            host.Console.WriteLine($"translated {run.Written} of {files.Count} images to {outputRoot}");
            if (run.Failures.Count == 0)
            {
                return ExitCodes.Success;
            }

            await host.Error.WriteLineAsync($"{run.Failures.Count} files were not translated:").ConfigureAwait(false);
            foreach (var (file, reason) in run.Failures.OrderBy(f => f.File, StringComparer.Ordinal))
            {
                await host.Error.WriteLineAsync($"  {file}: {reason}").ConfigureAwait(false);
            }

            return ExitCodes.BadInput;
        });
        return command;
    }

    private static List<string> ListInputs(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new CliException($"--in: folder '{root}' does not exist.");
        }

        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => InputExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        return files.Count > 0 ? files : throw new CliException($"--in: no .png, .jpg or .jpeg files under '{root}'.");
    }

    /// <summary>Reads and sends one file at a time; HTTP/2 flow control keeps the read-ahead small.</summary>
    private static async Task SendAsync(
        IClientStreamWriter<TranslateStreamRequest> requests, IReadOnlyList<string> files, TranslationRun run, string model, ImageFormat format, bool resizeBack, CancellationToken cancellationToken)
    {
        var first = true;
        foreach (var file in files)
        {
            if (run.Claim(file) is not { } id)
            {
                continue;
            }

            byte[] data;
            try
            {
                data = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                run.Fail(id, $"cannot read: {e.Message}");
                continue;
            }

            // The model and settings travel on the first message only; the server keeps them for the stream.
            var message = new TranslateStreamRequest { Image = new InputImage { Data = UnsafeByteOperations.UnsafeWrap(data), Id = id } };
            if (first)
            {
                (message.Model, message.Format, message.ResizeBack, first) = (model, format, resizeBack, false);
            }

            run.Sent(id);
            await requests.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }

        await requests.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Where each answer goes, and what failed.</summary>
    private sealed class TranslationRun(string inputRoot, string outputRoot, ImageFormat format)
    {
        private readonly Dictionary<string, string> _claimedOutputs = new(StringComparer.Ordinal);
        private readonly Lock _gate = new();

        // Answers are matched by index to what was sent, never by the echoed id, so no server reply chooses a path.
        private readonly List<string> _sent = [];

        public List<(string File, string Reason)> Failures { get; } = [];

        public int Written { get; private set; }

        /// <summary>The file's id (its path under --in, with '/'), or null when its output name is already taken (a.png and a.jpg).</summary>
        public string? Claim(string file)
        {
            var id = Path.GetRelativePath(inputRoot, file).Replace(Path.DirectorySeparatorChar, '/');
            var target = OutputPath(id);
            lock (_gate)
            {
                if (_claimedOutputs.TryGetValue(target, out var other))
                {
                    Failures.Add((id, $"its output {Path.GetRelativePath(outputRoot, target)} is already the translation of {other}"));
                    return null;
                }

                _claimedOutputs.Add(target, id);
                return id;
            }
        }

        public void Fail(string id, string reason)
        {
            lock (_gate)
            {
                Failures.Add((id, reason));
            }
        }

        public void Sent(string id)
        {
            lock (_gate)
            {
                _sent.Add(id);
            }
        }

        public async Task ReceiveAsync(TranslateStreamResponse answer)
        {
            string id;
            lock (_gate)
            {
                id = answer.Index < _sent.Count ? _sent[(int)answer.Index] : throw new CliException($"the server answered image {answer.Index}, which was not sent", ExitCodes.Failure);
            }

            if (answer.ResultCase != TranslateStreamResponse.ResultOneofCase.Image)
            {
                Fail(id, answer.Error?.Message ?? "no answer");
                return;
            }

            var path = OutputPath(id);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await OutputFiles.WriteAtomicallyAsync(path, answer.Image.Data.Memory).ConfigureAwait(false);
            Written++;
        }

        private string OutputPath(string id) => Path.Combine(outputRoot, Path.ChangeExtension(id, OutputFiles.Extension(format)));
    }
}
