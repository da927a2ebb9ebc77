using System.Buffers;
using Google.Protobuf.Reflection;

namespace GanInference.Server.Limits;

/// <summary>
/// Checks that bytes are a well-formed protobuf encoding of a message type by walking the wire format: tags,
/// varints and lengths are read, nested messages of known fields are walked, and every other field is skipped.
/// Nothing is materialised (no strings, no copies of bytes fields), so checking a 16 MB upload costs a scan,
/// not a second parse.
/// </summary>
internal static class ProtobufWireCheck
{
    // Google.Protobuf's default recursion limit.
    private const int MaxDepth = 100;

    /// <summary>Null when <paramref name="message"/> is well formed, else what is wrong with it.</summary>
    public static string? Describe(ReadOnlySequence<byte> message, MessageDescriptor descriptor)
    {
        var reader = new SequenceReader<byte>(message);
        return CheckMessage(ref reader, message.Length, descriptor, depth: 0);
    }

    private static string? CheckMessage(ref SequenceReader<byte> reader, long end, MessageDescriptor? descriptor, int depth)
    {
        if (depth > MaxDepth)
        {
            return $"messages nested deeper than {MaxDepth} levels";
        }

        while (reader.Consumed < end)
        {
            if (!TryReadVarint(ref reader, end, out var tag))
            {
                return $"a field tag at byte {reader.Consumed} is truncated or longer than 10 bytes";
            }

            var number = tag >> 3;
            if (number is 0 or > 536_870_911)
            {
                return $"invalid field number {number} at byte {reader.Consumed}";
            }

            var problem = (int)(tag & 7) switch
            {
                0 => TryReadVarint(ref reader, end, out _) ? null : $"field {number}: a varint is truncated or longer than 10 bytes",
                1 => Skip(ref reader, end, 8) ? null : $"field {number}: a fixed64 runs past the end of the message",
                5 => Skip(ref reader, end, 4) ? null : $"field {number}: a fixed32 runs past the end of the message",
                2 => CheckLengthDelimited(ref reader, end, descriptor?.FindFieldByNumber((int)number), number, depth),
                3 or 4 => $"field {number}: groups (wire types 3 and 4) are not part of this API",
                var wireType => $"field {number}: invalid wire type {wireType}",
            };
            if (problem is not null)
            {
                return problem;
            }
        }

        return reader.Consumed == end ? null : "a field runs past the end of its enclosing message";
    }

    private static string? CheckLengthDelimited(ref SequenceReader<byte> reader, long end, FieldDescriptor? field, ulong number, int depth)
    {
        if (!TryReadVarint(ref reader, end, out var length))
        {
            return $"field {number}: a length is truncated or longer than 10 bytes";
        }

        if (length > (ulong)(end - reader.Consumed))
        {
            return $"field {number}: a length of {length} bytes runs past the end of the message ({end - reader.Consumed} bytes left)";
        }

        if (field is { FieldType: FieldType.Message })
        {
            return CheckMessage(ref reader, reader.Consumed + (long)length, field.MessageType, depth + 1);
        }

        reader.Advance((long)length);
        return null;
    }

    private static bool Skip(ref SequenceReader<byte> reader, long end, int count)
    {
        if (end - reader.Consumed < count)
        {
            return false;
        }

        reader.Advance(count);
        return true;
    }

    private static bool TryReadVarint(ref SequenceReader<byte> reader, long end, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70 && reader.Consumed < end; shift += 7)
        {
            reader.TryRead(out var b);
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }
}
