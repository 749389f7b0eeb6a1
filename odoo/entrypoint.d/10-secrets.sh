# Load secrets from NAME or NAME_FILE (Docker/compose secrets) into the environment of this
# script only; 30-config writes them to the 0600 config and the entrypoint unsets them.
load_secret() {
    local name=$1 file_var="${1}_FILE"
    if [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || die "$file_var points to ${!file_var}, which cannot be read"
        export "$name=$(cat "${!file_var}")"
    fi
}
load_secret DB_PASSWORD
load_secret ODOO_ADMIN_PASSWD
load_secret SMTP_PASSWORD
