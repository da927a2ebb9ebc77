using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace GanInference.Server.Hosting;

/// <summary>
/// What is at a Unix domain socket's path before the server binds it: nothing, a socket a live process listens on,
/// a stale socket (its process is gone), or some other file. Only a stale socket may be removed.
/// </summary>
internal static class UnixSocketFile
{
    /// <summary>The longest path a Unix socket address holds (sun_path is 108 bytes with the terminating NUL).</summary>
    public const int MaxPathBytes = 107;

    public enum State
    {
        Missing,
        LiveSocket,
        StaleSocket,
        NotASocket,
    }

    public static State Inspect(string path)
    {
        if (!Path.Exists(path))
        {
            return State.Missing;
        }

        if (!IsSocket(path))
        {
            return State.NotASocket;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return State.LiveSocket;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return State.StaleSocket;
        }
    }

    /// <summary>
    /// Why the server cannot bind <paramref name="path"/> (a message naming <paramref name="key"/>), or null when it can:
    /// nothing is there or a stale socket that will be removed. OptionsValidators reports it at start; the listener is
    /// only configured for a path without a problem, so Kestrel's own exceptions never come first.
    /// </summary>
    public static string? Problem(string path, string key)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            return $"{key} '{path}' is not an absolute path; give the socket's full path (e.g. /run/gan/grpc.sock), or empty to turn it off";
        }

        var bytes = System.Text.Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxPathBytes)
        {
            return $"{key} '{path}' is {bytes} bytes long; a Unix socket path holds at most {MaxPathBytes}";
        }

        if (!Directory.Exists(Path.GetDirectoryName(path)))
        {
            return $"{key} '{path}': the folder {Path.GetDirectoryName(path)} does not exist";
        }

        return Inspect(path) switch
        {
            State.NotASocket => $"{key} '{path}' exists and is not a socket; the server removes only a stale socket file there, so move that file or choose another path",
            State.LiveSocket => $"{key} '{path}' is a socket another process listens on; stop it or choose another path",
            _ => null,
        };
    }

    /// <summary>Removes the file at <paramref name="path"/> if it is a stale socket; returns whether it did.</summary>
    public static bool RemoveIfStale(string path)
    {
        if (Inspect(path) != State.StaleSocket)
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    private const int FileTypeMask = 0xF000; // S_IFMT
    private const int SocketFileType = 0xC000; // S_IFSOCK

    /// <summary>lstat(2)'s file type: true only for a socket (a symbolic link or anything unreadable is not one).</summary>
    private static bool IsSocket(string path)
    {
        // struct stat's st_mode: after st_dev, st_ino and (x86-64 only) the 8-byte st_nlink; glibc ≥ 2.33 exports lstat.
        var modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 or Architecture.LoongArch64 or Architecture.RiscV64 => 16,
            _ => -1,
        };
        if (modeOffset < 0 || !OperatingSystem.IsLinux())
        {
            return false;
        }

        var stat = new byte[256];
        var name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        try
        {
            if (LStat(name, stat) != 0)
            {
                return false;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }

        var mode = BitConverter.ToUInt32(stat, modeOffset);
        return (mode & FileTypeMask) == SocketFileType;
    }

    // Byte arrays are blittable: pinned for the call, no marshalling code (and no unsafe blocks) needed.
    [DllImport("libc", EntryPoint = "lstat", SetLastError = true)]
    private static extern int LStat(byte[] path, byte[] buffer);
}
