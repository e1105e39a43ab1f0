"""Moved to kuaichu.evidence.signing; shim removed in the final sweep."""

from kuaichu.evidence.signing import ALGORITHM as ALGORITHM
from kuaichu.evidence.signing import KEY_FILE_NAME as KEY_FILE_NAME
from kuaichu.evidence.signing import InvalidPublicKey as InvalidPublicKey
from kuaichu.evidence.signing import ServerKey as ServerKey
from kuaichu.evidence.signing import ServerKeyError as ServerKeyError
from kuaichu.evidence.signing import ServerKeyMissing as ServerKeyMissing
from kuaichu.evidence.signing import key_id_of as key_id_of
from kuaichu.evidence.signing import load_public_key as load_public_key
