#!/bin/sh
# certs.sh DIR — test certificates for tdstestd, made at test time with the
# openssl command (nothing secret is committed):
#   ca.pem / ca.key            a test CA
#   server.pem / server.key    127.0.0.1 and localhost (SAN IP + DNS, CN localhost)
#   wronghost.pem / .key       valid, signed by the CA, for wrong.example.invalid
#   expired.pem / .key         for 127.0.0.1/localhost, expired yesterday
#   server-chain.pem           server.pem followed by ca.pem
set -eu

dir=${1:?usage: certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

days=30
subj_ca="/CN=tdstestd test CA"

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
    -days "$days" -subj "$subj_ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

leaf() { # name cn san [startdate enddate]
    name=$1 cn=$2 san=$3
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
        -subj "/CN=$cn" 2>/dev/null
    cat > "$name.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EOF
    if [ $# -ge 5 ]; then
        # An expired certificate needs explicit dates: `openssl ca` takes them.
        mkdir -p ca.db
        : > ca.db/index.txt
        [ -f ca.db/serial ] || echo 1000 > ca.db/serial
        cat > ca.db/ca.cnf <<EOF
[ ca ]
default_ca = test
[ test ]
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
EOF
        openssl ca -batch -config ca.db/ca.cnf -cert ca.pem -keyfile ca.key \
            -in "$name.csr" -out "$name.pem" -startdate "$4" -enddate "$5" \
            -extfile "$name.ext" -notext 2>/dev/null
    else
        openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out "$name.pem" -days "$days" -sha256 -extfile "$name.ext" 2>/dev/null
    fi
    rm -f "$name.csr" "$name.ext"
}

leaf server localhost "DNS:localhost,IP:127.0.0.1"
leaf wronghost wrong.example.invalid "DNS:wrong.example.invalid"
# Valid for one day, ten days ago (dates in UTC, YYMMDDHHMMSSZ).
start=$(date -u -d '10 days ago' +%y%m%d%H%M%SZ)
end=$(date -u -d '9 days ago' +%y%m%d%H%M%SZ)
leaf expired localhost "DNS:localhost,IP:127.0.0.1" "$start" "$end"
cat server.pem ca.pem > server-chain.pem
rm -rf ca.db ca.srl
chmod 600 ./*.key
echo "certs in $dir"
