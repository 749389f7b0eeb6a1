# Production must never start with a missing or well-known password.
case "${DFR_ENV:-devel}" in
    prod|production)
        for secret in DB_PASSWORD ODOO_ADMIN_PASSWD; do
            value=${!secret:-}
            lowered=${value,,}
            case "$lowered" in
                ""|admin|odoo|postgres|password|changeme|change-me|change_me|secret|default|dfr)
                    die "$secret is missing or a default value; set a strong one in the odoo env file (.docker/prod/odoo.env) and redeploy" 78 ;;
            esac
            [ ${#value} -ge 12 ] || die "$secret is shorter than 12 characters; production needs a strong password" 78
        done
        unset value lowered ;;
esac
