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
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Allow a non-empty --out (replacing files of the same name) and an --out equal to or inside --in (which replaces the inputs)",
        };

        var command = new Command("translate", "Translate a folder of images with an image-to-image model (see examples/ for inputs).");
        command.Options.Add(model);
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(format);
        command.Options.Add(resizeBack);
        command.Options.Add(overwrite);

        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            var inputRoot = Path.GetFullPath(parse.GetValue(input)!);
            var outputRoot = Path.GetFullPath(parse.GetValue(output)!);
            var replace = parse.GetValue(overwrite);
            CheckFolders(inputRoot, outputRoot, replace);
            var files = ListInputs(inputRoot, outputRoot);
            outputRoot = OutputFiles.PrepareFolder(outputRoot, "--out", out var created);
            try
            {
                using var client = connection.CreateClient(parse);
                var info = await ModelLookup.GetAsync(client, parse.GetValue(model)!, cancellationToken).ConfigureAwait(false);
                if (info.Kind != ModelKind.ImageToImage)
                {
                    var candidates = await ModelLookup.NamesOfKindAsync(client, ModelKind.ImageToImage, cancellationToken).ConfigureAwait(false);
                    throw new CliException($"model '{info.Name}' is {ModelLookup.KindName(info.Kind)}; `gan translate` needs an image-to-image model ({candidates}); "
                        + $"use `gan generate --model {info.Name}` for this one.");
                }

                var run = new TranslationRun(inputRoot, outputRoot, parse.GetValue(format), replace);
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

                await host.Error.WriteLineAsync(run.Failures.Count == 1 ? "1 file was not translated:" : $"{run.Failures.Count} files were not translated:").ConfigureAwait(false);
                foreach (var (file, reason) in run.Failures.OrderBy(f => f.File, StringComparer.Ordinal))
                {
                    await host.Error.WriteLineAsync($"  {file}: {ServerMessages.Rewrite(reason)}").ConfigureAwait(false);
                }

                return ExitCodes.BadInput;
            }
            finally
            {
                OutputFiles.RemoveIfNoFiles(created);
            }
        });
        return command;
    }

    /// <summary>
    /// Refuses, before anything is read or sent, an --out that would replace or mix with files the user did not
    /// ask to replace: the input folder itself (or a folder inside it), a non-empty folder, a `gan dataset` folder.
    /// </summary>
    internal static void CheckFolders(string inputRoot, string outputRoot, bool overwrite)
    {
        if (!Directory.Exists(inputRoot))
        {
            throw new CliException($"--in: folder '{inputRoot}' does not exist (examples/ in the repository has inputs for the shipped models).");
        }

        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var inside = IsSameOrInside(outputRoot, inputRoot, comparison);
        if (inside && !overwrite)
        {
            throw new CliException(string.Equals(outputRoot.TrimEnd(Path.DirectorySeparatorChar), inputRoot.TrimEnd(Path.DirectorySeparatorChar), comparison)
                ? $"--out is the same folder as --in ('{inputRoot}'): the translations would replace the input images. Give another --out, or add --overwrite to replace them."
                : $"--out '{outputRoot}' is inside --in '{inputRoot}': translations would mix with the inputs. Give an --out outside --in, or add --overwrite to write there anyway.");
        }

        if (!Directory.Exists(outputRoot))
        {
            return;
        }

        if (File.Exists(Path.Combine(outputRoot, Dataset.DatasetSpec.FileName)))
        {
            throw new CliException($"--out: '{outputRoot}' holds a `gan dataset` ({Dataset.DatasetSpec.FileName}); translations would mix with its images and manifests. Give another --out.");
        }

        if (!overwrite && !inside && Directory.EnumerateFileSystemEntries(outputRoot).FirstOrDefault() is { } entry)
        {
            throw new CliException($"--out: '{outputRoot}' is not empty (it holds '{Path.GetFileName(entry)}'); give a new or empty folder so nothing is overwritten, or add --overwrite to replace files of the same name.");
        }
    }

    private static bool IsSameOrInside(string path, string folder, StringComparison comparison)
    {
        var p = path.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var f = folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return p.StartsWith(f, comparison);
    }

    /// <summary>The images under --in, leaving out --out when it lies inside --in (its files are outputs, not inputs).</summary>
    private static List<string> ListInputs(string root, string outputRoot)
    {
        var outputPrefix = outputRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var excludeOutput = !string.Equals(root.TrimEnd(Path.DirectorySeparatorChar), outputRoot.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => InputExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Where(f => !excludeOutput || !f.StartsWith(outputPrefix, StringComparison.Ordinal))
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
    private sealed class TranslationRun(string inputRoot, string outputRoot, ImageFormat format, bool overwrite)
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
            await OutputFiles.WriteAtomicallyAsync(path, answer.Image.Data.Memory, overwrite).ConfigureAwait(false);
            Written++;
        }

        private string OutputPath(string id) => Path.Combine(outputRoot, Path.ChangeExtension(id, OutputFiles.Extension(format)));
    }
}
